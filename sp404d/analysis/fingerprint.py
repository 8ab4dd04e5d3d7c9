"""A perceptual fingerprint that works for one-shots from 50 ms up.

Chromaprint gives nothing below ~2.7 s, so most of a sample library would go unmatched. This is a
masked spectral bit-hash in the manner of Haitsma & Kalker: on a fine time grid, one bit per band
boundary says whether the energy difference between adjacent bands grew or shrank from the last
frame. Signs of differences ignore gain; a band limit of 5 kHz at 11,025 Hz ignores what lossy
codecs and resampling remove; trimming silence relative to the peak ignores padding and encoder
delay; bits where the sound is near silent are masked out, since noise decides them.

Two fingerprints are compared by their bit error rate over the overlap, at the best of a few small
time shifts (what is left of encoder delay and trim jitter). The fingerprint also keeps a coarse
waveform shape (the trimmed sound low-passed to 2,756 Hz, 1,024 samples of int8) from which the
index key is made. Bits alone call different sounds close (short ones especially), so they only
find and rank candidates: whether two sounds are the same recording is same.py's decision, on the
waveform signature (signature.py).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import scipy.fft
import soxr

from sp404d.analysis.spectra import zero_padded

SR = 11025
N_FFT = 512          # 46 ms: steadier band energies under lossy coding than 23 ms (measured)
HOP = 64             # 5.8 ms: a 50 ms hit still gives ~8 frames
BANDS = 17           # 16 bits per frame
BANDS_BITS = BANDS - 1
F_MIN, F_MAX = 80.0, 5000.0
MAX_FRAMES = 172     # the first second after the onset identifies a sound
TRIM_DB = -40.0      # silence, relative to the peak
ENERGY_LEFT = 0.005  # the duration ends where this share of the energy is left: a quiet tail hovering
                     # about TRIM_DB ends a trim anywhere within seconds, a copy's codec noise there too
MASK_DB = -45.0      # frames quieter than this (relative to the loudest) carry no bits
MAX_SHIFT = 6        # frames (+-35 ms): encoder delay and pre-echo left after trimming
SHAPE_DECIMATION = 4  # 11,025 / 4 = 2,756 Hz
SHAPE_SAMPLES = 1024


@dataclass(frozen=True, eq=False)
class Fingerprint:
    words: np.ndarray    # (frames,) uint16: each frame's 16 bits as one word, for popcount comparison
    mask: np.ndarray     # (frames,) bool: frames loud enough to count
    duration: float      # seconds from the onset until all but ENERGY_LEFT of the energy has sounded
    shape: np.ndarray    # (<= 1024,) int8: the trimmed waveform at 2,756 Hz, peak-normalised

    @functools.cached_property
    def loud_frames(self) -> int:
        return int(self.mask.sum())

    @functools.cached_property
    def bits(self) -> np.ndarray:
        """(frames, 16) bool, most significant bit first."""
        return np.unpackbits(self.words.astype(">u2").view(np.uint8).reshape(-1, 2), axis=1).astype(bool)

    def pack(self) -> bytes:
        """Compact storage (~1.2 KB): frame count, duration, shape length, bits, mask, shape."""
        head = (np.array([self.words.size, self.shape.size], dtype="<u2").tobytes() + np.float32(self.duration).tobytes())
        return (head + self.words.astype(">u2").tobytes() + np.packbits(self.mask).tobytes()
                + self.shape.astype(np.int8).tobytes())

    @classmethod
    def unpack(cls, blob: bytes) -> "Fingerprint":
        """Cheap on purpose: the writer unpacks every candidate it compares (~16 per new sound)."""
        frames, shape_len = (int(v) for v in np.frombuffer(blob[:4], "<u2"))
        duration = float(np.frombuffer(blob[4:8], "<f4")[0])
        at = 8
        words = np.frombuffer(blob[at:at + 2 * frames], ">u2").astype(np.uint16)
        at += 2 * frames
        mask_bytes = (frames + 7) // 8
        mask = np.unpackbits(np.frombuffer(blob[at:at + mask_bytes], np.uint8), count=frames).view(bool)
        at += mask_bytes
        return cls(words, mask, duration, np.frombuffer(blob[at:at + shape_len], np.int8))


@functools.lru_cache(maxsize=1)
def _bands() -> tuple[np.ndarray, np.ndarray]:
    from sp404d.analysis import banks  # librosa's mel bank, from the on-disk cache

    fb = banks.load()["fingerprint_mel"]
    assert fb.shape == (BANDS, N_FFT // 2 + 1) and (SR, F_MIN, F_MAX) == (11025, 80.0, 5000.0)
    window = np.hanning(N_FFT + 1)[:-1].astype(np.float32)
    return fb, window


def trim(y: np.ndarray) -> np.ndarray:
    """Cut leading and trailing silence, relative to the peak (so gain does not move the cut)."""
    level = np.abs(y)  # once: the first and last loud sample are found from both ends of one mask
    peak = float(level.max()) if y.size else 0.0
    if peak <= 0:
        return y[:0]
    loud = level >= peak * 10 ** (TRIM_DB / 20)
    return y[int(np.argmax(loud)): y.size - int(np.argmax(loud[::-1]))]


def compute(y: np.ndarray, sr: int, level: np.ndarray | None = None) -> Fingerprint | None:
    """Fingerprint of mono float audio at `sr`; None for silence. Only the first second after the
    onset is resampled (the bits stop there): a long loop costs little more than a hit. `level`:
    np.abs(y), when the caller has it (the worker shares it with signature.compute)."""
    y = np.ascontiguousarray(y, dtype=np.float32)
    level = np.abs(y) if level is None else level
    peak = float(level.max()) if y.size else 0.0
    if peak <= 0:
        return None
    onset = int(np.argmax(level >= peak * 10 ** (TRIM_DB / 20)))
    duration = energy_duration(y[onset:], sr)
    margin = int(0.05 * sr)  # room for an earlier onset in the analysis band (a bright click's peak is higher)
    y = y[max(onset - margin, 0):onset + margin + int(np.ceil((MAX_FRAMES * HOP + N_FFT) * sr / SR))]
    if sr != SR:
        y = soxr.resample(y, sr, SR, quality="HQ").astype(np.float32, copy=False)
    y = trim(y)
    if y.size == 0:
        return None
    # centred frames (half a window of silence each side): a 50 ms hit still spans ~16 frames
    y = zero_padded(y[: MAX_FRAMES * HOP + N_FFT // 2], N_FFT // 2)
    fb, window = _bands()
    frames = np.lib.stride_tricks.sliding_window_view(y, N_FFT)[::HOP]
    power = np.abs(scipy.fft.rfft(frames * window, axis=1)) ** 2  # scipy: see spectra.compute
    energy = np.log(np.maximum(power @ fb.T, 1e-12))                 # (frames, 17)
    band_diff = energy[:, :-1] - energy[:, 1:]                        # (frames, 16)
    bits = (band_diff[1:] - band_diff[:-1]) > 0                       # (frames-1, 16)
    level = 10 * np.log10(np.maximum(power.sum(axis=1), 1e-20))
    loud = level > level.max() + MASK_DB
    mask = loud[1:] & loud[:-1]
    low = soxr.resample(y[: SHAPE_SAMPLES * SHAPE_DECIMATION], SR, SR // SHAPE_DECIMATION, quality="HQ")
    shape = np.round(low / max(float(np.abs(low).max()), 1e-9) * 127).astype(np.int8)[:SHAPE_SAMPLES]
    words = np.packbits(bits[:MAX_FRAMES], axis=1).view(">u2").ravel().astype(np.uint16)
    return Fingerprint(words, mask[:MAX_FRAMES], duration, shape)


def energy_duration(y: np.ndarray, sr: int, block: int = 64) -> float:
    """Seconds until all but ENERGY_LEFT of the energy of `y` has sounded (to `block` samples)."""
    n = y.size // block * block
    blocks = np.einsum("ij,ij->i", y[:n].reshape(-1, block), y[:n].reshape(-1, block)).astype(np.float64)
    rest = float(np.dot(y[n:], y[n:]))
    energy = np.cumsum(np.append(blocks, rest))
    if energy[-1] <= 0:
        return block / sr
    return min((int(np.searchsorted(energy, (1.0 - ENERGY_LEFT) * energy[-1])) + 1) * block, y.size) / sr


def distance(a: Fingerprint, b: Fingerprint, max_shift: int = MAX_SHIFT) -> float:
    """Bit error rate (0 same, ~0.5 unrelated) at the best shift; 1.0 if they hardly overlap."""
    return float(distances(a, [b], max_shift)[0])


def distances(a: Fingerprint, others: list[Fingerprint], max_shift: int = MAX_SHIFT) -> np.ndarray:
    """distance(a, b) for every b in `others`, in one pass: all candidates and all shifts at once
    on 16-bit words (one per frame), XORed and counted with popcount. The writer compares each new
    sound with up to 32 candidates; one array operation instead of one per pair keeps that cheap.
    Frames past a fingerprint's end are padding with a clear mask, so they never count."""
    if not others:
        return np.empty(0)
    n = max(a.words.size, *(b.words.size for b in others))
    b_words = np.zeros((len(others), n), np.uint16)
    b_mask = np.zeros((len(others), n), bool)
    for row, b in enumerate(others):
        b_words[row, :b.words.size], b_mask[row, :b.mask.size] = b.words, b.mask
    words = np.zeros(n + 2 * max_shift, np.uint16)
    mask = np.zeros(n + 2 * max_shift, bool)
    words[max_shift:max_shift + a.words.size], mask[max_shift:max_shift + a.mask.size] = a.words, a.mask
    # row k of `at` reads a[k - max_shift + i] against b[i]
    at = np.arange(2 * max_shift + 1)[:, None] + np.arange(n)[None, :]
    both = mask[at][None, :, :] & b_mask[:, None, :]                              # (others, shifts, n)
    counted = both.sum(axis=2)
    errors = np.where(both, np.bitwise_count(words[at][None, :, :] ^ b_words[:, None, :]), 0).sum(axis=2)
    least = 0.5 * np.minimum(int(a.mask.sum()), b_mask.sum(axis=1))[:, None]
    enough = (counted > 0) & (counted >= least)
    ber = np.where(enough, errors / np.maximum(counted, 1) / BANDS_BITS, 1.0)
    return ber.min(axis=1)


# Durations must agree (from the onset to 99.5 % of the energy) for two sounds to be compared at all.
DURATION_RATIO = 1.3
DURATION_SLACK = 0.12  # seconds


def durations_agree(a: Fingerprint, b: Fingerprint) -> bool:
    return (abs(np.log(max(a.duration, 1e-3) / max(b.duration, 1e-3))) < np.log(DURATION_RATIO)
            or abs(a.duration - b.duration) < DURATION_SLACK)


# -- the coarse key the index ranks candidates by --

ENVELOPE_SEGMENTS = 16
SPECTRUM_BANDS = 12
COARSE_DIMS = ENVELOPE_SEGMENTS + SPECTRUM_BANDS


@functools.lru_cache(maxsize=1)
def _spectrum_edges() -> np.ndarray:
    # log-spaced bins of the shape's 1,024-point spectrum (2,756 Hz: up to 1,378 Hz), from ~20 Hz
    return np.unique(np.round(np.geomspace(8, SHAPE_SAMPLES // 2 + 1, SPECTRUM_BANDS + 1)).astype(int))


def coarse(f: Fingerprint) -> np.ndarray:
    """A small float vector that copies of one sound share: the waveform shape's level envelope
    (16 segments of 23 ms) and its low-frequency spectrum (12 log bands), both in dB relative to
    their maximum, so gain, codec and sample rate barely move it. Only ranks candidates; the
    decision is same.judge()'s."""
    x = np.zeros(SHAPE_SAMPLES, np.float32)
    x[: f.shape.size] = f.shape.astype(np.float32) / 127.0
    seg = np.sqrt((x.reshape(ENVELOPE_SEGMENTS, -1) ** 2).mean(axis=1))
    env = 20 * np.log10(np.maximum(seg / max(float(seg.max()), 1e-9), 1e-2)) / 40.0       # 0 .. -1
    power = np.abs(np.fft.rfft(x)) ** 2
    edges = _spectrum_edges()
    bands = np.zeros(SPECTRUM_BANDS)  # (fewer edges than bands leave zeros at the end; no np.pad: ~35 us)
    for i, (lo, hi) in enumerate(zip(edges[:-1].tolist(), edges[1:].tolist())):
        bands[i] = power[lo:hi].sum()
    spec = 10 * np.log10(np.maximum(bands / max(float(bands.max()), 1e-12), 1e-4)) / 40.0  # 0 .. -1
    return np.concatenate([env, spec]).astype(np.float32)


def pack_key(duration: float, key: np.ndarray) -> bytes:
    """Stored form of a coarse key: the duration, then the key, as float32 (116 bytes)."""
    return np.concatenate([[duration], key]).astype("<f4").tobytes()


def unpack_key(blob: bytes) -> tuple[float, np.ndarray]:
    values = np.frombuffer(blob, "<f4")
    return float(values[0]), values[1:].astype(np.float32)
