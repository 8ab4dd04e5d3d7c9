"""The waveform signature: the evidence that two files are the same recording.

The fingerprint (fingerprint.py) finds candidates, but it is a pattern of signs of band-energy
differences: two separately recorded strikes of one drum, or a short hi-hat and an 8 ms synth
waveform, can agree in most of its bits. What decides is the waveform. A copy of a recording (any
container, codec, rate, bit depth, gain, channel layout or padding) has the same waveform up to
gain and codec noise; another recording does not, however alike it sounds.

The signature keeps the waveform at 22,050 Hz (bands up to 11 kHz: cymbals and hats differ above
5 kHz), mono, as int8, in two parts:
- the head: HEAD samples (186 ms) from the onset, whole, with PRE samples before it, so a codec's
  pre-echo or a trim that lands a little early still leaves the same sound in both heads;
- the body: what follows the head, as short windows at fixed times after the onset on a geometric
  grid (each step 22 % longer than the last): dense where one-shots keep their energy, sparse in a
  long tail, and the same times in a copy, whatever its padding, gain or codec. Each window stands
  for the stretch of sound around it, with that stretch's energy as its weight.

compare() aligns the heads (to a quarter of a sample: a copy resampled or delayed by half a sample
decorrelates above 5 kHz otherwise), reads each body window at the offset that alignment gives,
and weighs them by the energy they stand for: one correlation of the whole sounds (gain cancels). It also says
how far the sounds agree in their weakest bands (`detail`): two strikes of one low drum are two
alike damped sines (whole-waveform correlation up to 0.996) but their attacks, a small share of
the energy, differ; a copy keeps those too.

About 4.6 KB per sound. Pure: arrays in, numbers out.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import scipy.fft
import soxr

RATE = 22050
HEAD = 4096           # 186 ms: the attack and body of most one-shots, whole
PRE = 256             # 12 ms before the onset: room for pre-echo and trim jitter
WINDOW = 256          # 11.6 ms each
GRID_STEP = 1.22      # window times: HEAD * GRID_STEP ** k after the onset
MAX_WINDOWS = 16      # the last 16 grid times before the end (a 4-bar loop: every ~20 % of its length)
ONSET_DB = -40.0      # the onset: the first sample this close to the peak
END_DB = -60.0        # the end of the body: the last sample this close to the peak
MAX_LAG = 330         # samples (15 ms) each way: what trimming, pre-echo and encoder delay leave
WINDOW_SLACK = 0.5    # samples each way a body window may sit from where the head alignment puts it (a copy keeps
                      # its timing: resampling and codecs shift it as a whole; a wider search would let a
                      # ringing tone of another strike line up again in every window)
UP = 4                # correlation evaluated at quarter-sample steps
TAPER = 512           # the head fades out over its last 23 ms
BAND_EDGES = (0, 350, 700, 1400, 2800, 5600, 11025)  # octaves, for `detail`
HEAD_FFT = 8192       # >= PRE + HEAD + MAX_LAG: the heads' correlation at every lag searched, unwrapped
PROFILE_BANDS = 256   # the head's spectral profile: a bound on the heads' correlation at any lag (finer bands,
                      # a tighter bound: 96 let 8 % of unrelated pairs through, 256 5 %)
VERSION = 1


@dataclass(frozen=True, eq=False)
class Signature:
    head: np.ndarray        # (PRE + HEAD,) int8, peak-normalised
    head_scale: float       # peak of the head in full-scale units (for energies)
    windows: np.ndarray     # (n, WINDOW) int8, each normalised to its own peak
    scales: np.ndarray      # (n,) float32: each window's peak in full-scale units
    positions: np.ndarray   # (n,) int32: centre of each window, samples after the onset (grid times)
    weights: np.ndarray     # (n,) float32: energy of the stretch each window stands for
    head_energy: float      # energy of the head, in the same units
    profile: np.ndarray     # (PROFILE_BANDS,) root of each band's share of the head's energy (float16 stored)

    # spectra kept with the signature: the writer compares one sound with many
    @functools.cached_property
    def head_spectrum(self) -> np.ndarray:
        return scipy.fft.rfft(self.head.astype(np.float64), HEAD_FFT)

    @functools.cached_property
    def head_power(self) -> float:
        return float(np.dot(self.head.astype(np.float64), self.head))

    @functools.cached_property
    def window_spectra(self) -> np.ndarray:
        return scipy.fft.rfft(self.windows.astype(np.float64), 2 * WINDOW, axis=1)

    @functools.cached_property
    def band_powers(self) -> np.ndarray:
        """The head's power in each octave of BAND_EDGES (compare's `detail`)."""
        return np.add.reduceat(np.abs(self.head_spectrum) ** 2, _band_edges(HEAD_FFT)[:-1])

    @functools.cached_property
    def window_powers(self) -> np.ndarray:
        return (self.windows.astype(np.float64) ** 2).sum(axis=1)

    def pack(self) -> bytes:
        n = self.windows.shape[0]
        head = np.array([VERSION, n], "<u2").tobytes() + np.array([self.head_scale, self.head_energy], "<f4").tobytes()
        return (head + self.profile.astype("<f2").tobytes() + self.head.astype(np.int8).tobytes()
                + self.scales.astype("<f4").tobytes()
                + self.positions.astype("<i4").tobytes() + self.weights.astype("<f4").tobytes()
                + self.windows.astype(np.int8).tobytes())

    @classmethod
    def unpack(cls, blob: bytes) -> "Signature":
        version, n = (int(v) for v in np.frombuffer(blob[:4], "<u2"))
        if version != VERSION:
            raise ValueError(f"signature version {version}")
        head_scale, head_energy = (float(v) for v in np.frombuffer(blob[4:12], "<f4"))
        at = 12
        profile = np.frombuffer(blob[at:at + 2 * PROFILE_BANDS], "<f2").astype(np.float64)
        at += 2 * PROFILE_BANDS
        head = np.frombuffer(blob[at:at + PRE + HEAD], np.int8)
        at += PRE + HEAD
        scales = np.frombuffer(blob[at:at + 4 * n], "<f4")
        at += 4 * n
        positions = np.frombuffer(blob[at:at + 4 * n], "<i4")
        at += 4 * n
        weights = np.frombuffer(blob[at:at + 4 * n], "<f4")
        at += 4 * n
        windows = np.frombuffer(blob[at:at + n * WINDOW], np.int8).reshape(n, WINDOW)
        return cls(head, head_scale, windows, scales, positions, weights, head_energy, profile)


def _int8(x: np.ndarray) -> tuple[np.ndarray, float]:
    peak = float(np.abs(x).max()) if x.size else 0.0
    if peak <= 0:
        return np.zeros(x.size, np.int8), 0.0
    return np.round(x * (127.0 / peak)).astype(np.int8), peak


def compute(y: np.ndarray, sr: int, level: np.ndarray | None = None) -> Signature | None:
    """Signature of mono float audio at `sr`; None for silence. `level`: np.abs(y), when the caller
    has it (the worker shares it with fingerprint.compute)."""
    y = np.ascontiguousarray(y, dtype=np.float32)
    if sr != RATE:
        y = soxr.resample(y, sr, RATE, quality="HQ").astype(np.float32, copy=False)
        level = None
    level = np.abs(y) if level is None else level
    peak = float(level.max()) if y.size else 0.0
    if peak <= 0:
        return None
    onset = int(np.argmax(level >= peak * 10 ** (ONSET_DB / 20)))
    end = y.size - int(np.argmax(level[::-1] >= peak * 10 ** (END_DB / 20)))
    head = np.zeros(PRE + HEAD, np.float32)
    lo = max(onset - PRE, 0)
    part = y[lo:onset + HEAD]
    head[PRE - (onset - lo):PRE - (onset - lo) + part.size] = part
    head[-TAPER:] *= _taper()  # a hard cut through a ringing tone would spread into every band
    head_q, head_scale = _int8(head)
    grid = _grid(end - onset)
    weights = []
    for i, centre in enumerate(grid):
        lo_edge = HEAD if i == 0 else (grid[i - 1] + centre) // 2
        hi_edge = end - onset if i == len(grid) - 1 else (centre + grid[i + 1]) // 2
        stretch = y[onset + lo_edge:onset + hi_edge]
        weights.append(float(np.dot(stretch, stretch)))
    windows, scales = _int8_rows(y[onset + np.array(grid, np.intp).reshape(-1, 1) + _window_offsets()])
    return Signature(head_q, head_scale, windows, scales, np.array(grid, np.int32), np.array(weights, np.float32),
                     float(np.dot(head, head)), _profile(head_q))


@functools.lru_cache(maxsize=1)
def _window_offsets() -> np.ndarray:
    return np.arange(-(WINDOW // 2), WINDOW // 2)


def _int8_rows(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """_int8 of every row of the float32 matrix x at once (the same numbers: each row scaled in
    float32 by its own 127 / peak, as _int8's float32 * Python float is), and the rows' peaks."""
    peaks = np.abs(x).max(axis=1) if x.size else np.zeros(x.shape[0], np.float32)
    sounding = peaks > 0
    factors = np.zeros(peaks.size, np.float32)
    factors[sounding] = 127.0 / peaks[sounding].astype(np.float64)
    return np.round(x * factors[:, None]).astype(np.int8), peaks.astype(np.float32)


BOUND_SLACK = 0.005


def _profile(head: np.ndarray) -> np.ndarray:
    """The square root of each band's share of the (int8) head's energy, with the weights of a real
    FFT (Parseval), so that profile(a) . profile(b) bounds the heads' correlation at every lag
    (Cauchy-Schwarz within each band): a cheap test that rules out most candidates before compare()."""
    spectrum = scipy.fft.rfft(head.astype(np.float32), HEAD_FFT)
    power = np.abs(spectrum) ** 2
    power[1:-1] *= 2
    bands = np.add.reduceat(power, np.linspace(0, power.size, PROFILE_BANDS + 1).astype(np.intp)[:-1])
    total = float(bands.sum())
    return np.sqrt(bands / total) if total > 0 else np.zeros(PROFILE_BANDS)


def head_bound(a: Signature, others: list[Signature]) -> np.ndarray:
    """For each other, an upper bound on compare(a, other).head (at any lag), give or take
    BOUND_SLACK (the profiles are stored as float16)."""
    if not others:
        return np.empty(0)
    return np.stack([o.profile for o in others]) @ a.profile


@functools.lru_cache(maxsize=1)
def _taper() -> np.ndarray:
    return np.hanning(2 * TAPER + 1)[TAPER + 1:].astype(np.float32)


@functools.lru_cache(maxsize=None)
def _all_grid() -> np.ndarray:
    times, t = [], float(HEAD)
    while t < 3600 * RATE:
        times.append(int(round(t)))
        t *= GRID_STEP
    return np.array(times[1:])  # the first lies inside the head


def _grid(length: int) -> list[int]:
    """Window centres (samples after the onset) for a sound `length` samples long: the last
    MAX_WINDOWS grid times whose window fits."""
    times = _all_grid()
    return [int(t) for t in times[times + WINDOW // 2 <= length][-MAX_WINDOWS:]]


@dataclass(frozen=True)
class Evidence:
    correlation: float  # of the whole waveforms, gain ignored (1 = the same waveform)
    head: float         # of the heads alone (the attack: where separate recordings part)
    detail: float       # the least correlation of any octave band that carries signal in the head
    lag: float          # samples at RATE by which b's head lags a's
    detail_loud: float = 1.0  # the same over the bands that carry a clear share (a codec's noise
                              # fills the faint ones)


def _best_lag(cross: np.ndarray, n: int, centre: float, reach: float) -> tuple[float, float]:
    """(lag, value) of the largest cross-correlation within centre +- reach, at 1/UP sample steps,
    from the cross-spectrum of two length-n FFTs (band-limited interpolation: exact for sampled audio)."""
    c = scipy.fft.irfft(cross, n * UP)
    lags = np.arange(int(np.floor((centre - reach) * UP)), int(np.ceil((centre + reach) * UP)) + 1)
    values = c[lags % (n * UP)] * UP  # scaled after the pick: the same numbers (UP is a power of 2), 8 % of the work
    i = int(np.argmax(values))
    return lags[i] / UP, float(values[i])


# A band counts in `detail` when it carries this share of the head's energy: well above the int8
# steps' noise (~ -60 dB in a low octave), so two strikes of one low drum, alike but for their faint
# upper octaves, are told apart. A codec's noise fills those faint octaves in a copy:
# `detail_loud` counts only the bands a codec spends its bits on.
DETAIL_SHARE = 1e-4
LOUD_SHARE = 1e-2


def compare(a: Signature, b: Signature) -> Evidence:
    """How alike two sounds' waveforms are. Symmetric up to the sign of the lag."""
    n = HEAD_FFT
    fa, fb = a.head_spectrum, b.head_spectrum
    ea, eb = a.head_power, b.head_power
    if ea <= 0 or eb <= 0:
        return Evidence(0.0, 0.0, 0.0, 0.0, 0.0)
    cross = fb * np.conj(fa)
    lag, value = _best_lag(cross, n, 0.0, MAX_LAG)
    head_corr = value / np.sqrt(ea * eb)
    # per octave, at that lag
    edges = _band_edges(n)
    rotated = (cross * _rotation(lag, n)).real
    sums = np.add.reduceat(rotated, edges[:-1])
    pa, pb = a.band_powers, b.band_powers
    share = np.minimum(pa / pa.sum(), pb / pb.sum())
    corr = sums / np.sqrt(np.maximum(pa * pb, 1e-300))
    counted = share >= DETAIL_SHARE
    detail = float(corr[counted].min()) if counted.any() else 1.0
    loud = share >= LOUD_SHARE
    detail_loud = float(corr[loud].min()) if loud.any() else 1.0
    # the body, window by window: the grid times are the same in both, offset by the head's lag
    # (both sets are runs of one grid: what they share is one run too)
    ia, ib = _shared(a.positions, b.positions)
    # energies relative to each sound's own total, averaged: the share each part stands for
    total_a = a.head_energy + float(a.weights.sum())
    total_b = b.head_energy + float(b.weights.sum())
    share_head = 0.5 * (a.head_energy / total_a + b.head_energy / total_b)
    score = share_head * head_corr
    if ia.size:
        m = 2 * WINDOW
        cross_w = b.window_spectra[ib] * np.conj(a.window_spectra[ia])
        # the few lags near the head's, evaluated directly from the cross-spectra (band-limited)
        values = (cross_w @ _phasors(lag, m)).real.max(axis=1)
        norms = np.sqrt(a.window_powers[ia] * b.window_powers[ib])
        shares = 0.5 * (a.weights[ia] / total_a + b.weights[ib] / total_b)
        fine = norms > 0
        score += float((shares[fine] * np.maximum(values[fine] / norms[fine], 0.0)).sum())
    # what only one of them has (a window past the other's end) counts as unmatched
    return Evidence(float(score), float(head_corr), detail, float(lag), detail_loud)


def _shared(pa: np.ndarray, pb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Indices into pa and pb of the grid times both have."""
    if not pa.size or not pb.size:
        return np.empty(0, np.intp), np.empty(0, np.intp)
    lo, hi = max(pa[0], pb[0]), min(pa[-1], pb[-1])
    if lo > hi:
        return np.empty(0, np.intp), np.empty(0, np.intp)
    a0, a1 = np.searchsorted(pa, [lo, hi])
    b0, b1 = np.searchsorted(pb, [lo, hi])
    return np.arange(a0, a1 + 1), np.arange(b0, b1 + 1)


@functools.lru_cache(maxsize=4)
def _band_edges(n: int) -> np.ndarray:
    """Bin indices where each octave band starts (and the end) for an rfft of size n."""
    freqs = np.fft.rfftfreq(n, 1.0 / RATE)
    return np.searchsorted(freqs, BAND_EDGES[:-1] + (RATE,)).clip(0, freqs.size).astype(np.intp)


# The phase factors of compare() depend only on the heads' lag, a multiple of 1/UP within MAX_LAG,
# and copies mostly share a few (0 above all): kept, the same numbers, not computed again per pair.
@functools.lru_cache(maxsize=64)  # 64 KB each
def _rotation(lag: float, n: int) -> np.ndarray:
    """What turns the heads' cross-spectrum to `lag`."""
    return np.exp(2j * np.pi * lag / n * np.arange(n // 2 + 1))


@functools.lru_cache(maxsize=64)
def _phasors(lag: float, m: int) -> np.ndarray:
    """The real inverse transform of the windows' cross-spectra at the lags near `lag`, as a matrix."""
    taus = lag + np.arange(-WINDOW_SLACK * UP, WINDOW_SLACK * UP + 1) / UP
    return np.exp(2j * np.pi * np.outer(np.arange(m // 2 + 1), taus) / m) * _fold(m)[:, None]


@functools.lru_cache(maxsize=4)
def _fold(m: int) -> np.ndarray:
    """Weights that turn a sum over the bins of an rfft of size m into the real inverse transform."""
    w = np.full(m // 2 + 1, 2.0 / m)
    w[0] = w[-1] = 1.0 / m
    return w
