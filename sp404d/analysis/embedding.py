"""A vector per sound for "more like this": timbre, envelope and pitch, each weighable.

Computed by the worker from what describe() already has (no second decode, no second STFT). The
raw descriptors are those the category model hears (category.vector: spectral shape, MFCC
statistics, each band's decay, the hit's fine envelope, the body's spectrum), which tell a kick
from a tom from a clap far better than MFCCs alone (tests/bench/bench_similar.py measures it:
precision@10 of same-category neighbours 0.75 against 0.63 for MFCC and spectral statistics), plus
the chroma for pitch, plus a few of the embedding's own (extra(), version 3: the hit's level at
fixed times after its peak at 1.5 ms steps, the spectrum of the hit by 16 mel bands, and how
peaked and lasting the hit's strongest partial is), which lifted precision@10 from 0.747 to 0.761 and
the mean over categories from 0.661 to 0.683 (claps 0.19 -> 0.27, hard for MFCCs; bench_similar.py
counting each file, before it counted each sound once). Each descriptor is standardised with constants
measured over the dev corpus
(embedding_norm.json, no labels involved), so every dimension's typical spread is one, and a
weighted Euclidean distance can turn an aspect up or down without one block drowning the others.

Level is left out on purpose: the MFCC c0 is taken relative to the loudest mel band, so a sound
turned down 6 dB is the same sound. Learned projections (LDA, logistic-regression logits, NCA)
were measured too, holding each kit out: on a kit they had not heard they gained at most 0.01
precision@10 (0.03 among neighbours that are not layers of the query's own drum) while mixing the
aspects together, so the vector stays a plain standardisation whose blocks can be weighed.

Pure: arrays in, numbers out. The library stores the vector packed (pack/unpack); the index
compares a query with many at once through distances().
"""

from __future__ import annotations

import functools
import json
from importlib import resources

import numpy as np

from sp404d.analysis import category as cat
from sp404d.analysis import spectra as sp

VERSION = 3
NORM_FILE = "embedding_norm.json"
N_CHROMA = 12
CLIP = 8.0  # standardised values beyond this are outliers (silence, a glitch): kept from dominating

# category.vector's 74 descriptors by aspect (its order: 15 head values, 13 MFCC means, 13 MFCC
# standard deviations, 5 band decays, hit and body centroid, hit and body low peak, hit mid
# flatness, 7 fine-envelope values, 9 body octaves, body peakiness, 3 contrasts, body flatness,
# strongest body frequency, flux), then extra()'s 24 (5 levels after the peak, 16 hit mel bands,
# the partial's prominence, frequency and persistence)
N_CAT = 74
_TIMBRE = [1, 2, 3, 4, 5, 6, 11, 12, 13, *range(15, 41), 46, 47, 50, *range(58, 67), 68, 69, 70, 71,
           *range(79, 95), 95, 97]
_ENVELOPE = [0, 7, 8, 9, 10, *range(41, 46), *range(51, 58), 73, *range(74, 79)]
_PITCH = [14, 48, 49, 67, 72, 96]
_C0 = 15  # MFCC c0: the level, replaced by the level relative to the loudest band
N_RAW = 98
assert sorted(_TIMBRE + _ENVELOPE + _PITCH) == list(range(N_RAW))
ORDER = np.array(_TIMBRE + _ENVELOPE + _PITCH)

# extra(): the hit's level (dB below its peak, floored) this long after the peak, on a 32-sample
# (1.45 ms) envelope read around the loudest STFT frame: a clap's bursts keep it up for 10-30 ms
# where a rim or a stick has fallen, and MFCC statistics over the whole sound do not see it
LEVEL_TIMES_S = (0.005, 0.01, 0.02, 0.04, 0.08)
LEVEL_FLOOR_DB = -60.0
LEVEL_HOP = 32
HIT_MEL_BANDS = 16      # the hit's (peak frame and the next) log-mel, 8 mel bands each, relative to its loudest
PARTIAL_HZ = (300, 3000)  # where a rim's, a woodblock's or a cowbell's ring sits

ASPECTS: dict[str, slice] = {
    "timbre": slice(0, len(_TIMBRE)),
    "envelope": slice(len(_TIMBRE), len(_TIMBRE) + len(_ENVELOPE)),
    "pitch": slice(len(_TIMBRE) + len(_ENVELOPE), N_RAW + N_CHROMA),
}
DIM = N_RAW + N_CHROMA
ASPECT_NAMES = ("timbre", "envelope", "pitch", "all")

# how much each dimension counts in "all": each standardised descriptor alike (every weighting of
# the blocks tried moved precision by under 0.01); chroma is a pitch class, not a kind of sound, so
# in "all" it only separates otherwise alike tonal sounds
ALL_WEIGHTS = {"timbre": 1.0, "envelope": 1.0, "pitch": 1.0}
CHROMA_ALL_WEIGHT = 0.25
CHROMA_SCALE = 4.0  # a tonal sound's unit chroma times its tonalness (~0.2-0.6), to a spread near one


@functools.lru_cache(maxsize=1)
def norm() -> tuple[np.ndarray, np.ndarray]:
    """(mean, scale) of the raw descriptors, in ORDER, over the dev corpus."""
    m = json.loads(resources.files("sp404d.analysis").joinpath(NORM_FILE).read_text("utf-8"))
    return np.array(m["mean"]), np.array(m["scale"])


def raw(s: sp.Spectra, x: np.ndarray) -> np.ndarray:
    """The descriptors before standardisation, in ORDER. `x` is category.vector(...) of the sound."""
    r = np.array(x, dtype=np.float64)
    # ortho DCT: c0 = sum(log_mel) / sqrt(n_mels), so subtracting the loudest band's level times
    # sqrt(n_mels) leaves the spectrum's shape and drops the gain
    r[_C0] -= np.sqrt(sp.N_MELS) * float(s.log_mel.max())
    return np.concatenate([r, extra(s)])[ORDER]


def extra(s: sp.Spectra) -> np.ndarray:
    """The embedding's own descriptors (24), all read around the loudest STFT frame, so a long
    loop costs no more than a hit: levels after the peak, the hit's mel spectrum, its partial."""
    peak_frame = int(np.argmax(s.energy))
    return np.concatenate([_levels_after_peak(s.y, peak_frame), _hit_mel(s, peak_frame), _partial(s, peak_frame)])


def _levels_after_peak(y: np.ndarray, peak_frame: int) -> np.ndarray:
    # the peak frame is centred on peak_frame * HOP and spans N_FFT: the fine peak lies within it
    start = max(0, peak_frame * sp.HOP - sp.N_FFT // 2)
    stop = peak_frame * sp.HOP + sp.N_FFT // 2 + int(LEVEL_TIMES_S[-1] * sp.SR) + LEVEL_HOP
    seg = np.asarray(y[start:stop], dtype=np.float64)
    n = seg.size // LEVEL_HOP * LEVEL_HOP
    if n < LEVEL_HOP:
        return np.full(len(LEVEL_TIMES_S), LEVEL_FLOOR_DB)
    blocks = seg[:n].reshape(-1, LEVEL_HOP)
    env = np.einsum("ij,ij->i", blocks, blocks) + 1e-18
    level = 10.0 * np.log10(env / env.max())
    peak = int(np.argmax(env))
    at = peak + np.round(np.array(LEVEL_TIMES_S) * sp.SR / LEVEL_HOP).astype(int)
    out = np.full(len(LEVEL_TIMES_S), LEVEL_FLOOR_DB)
    inside = at < level.size  # past the file's end: silence
    out[inside] = np.maximum(level[at[inside]], LEVEL_FLOOR_DB)
    return out


def _hit_mel(s: sp.Spectra, peak_frame: int) -> np.ndarray:
    m = s.log_mel[peak_frame: peak_frame + 2].mean(axis=0).reshape(HIT_MEL_BANDS, -1).mean(axis=1)
    return m - m.max()


def _partial(s: sp.Spectra, peak_frame: int) -> np.ndarray:
    """The hit's strongest partial in 300 Hz-3 kHz: how far it stands above the band's median, its
    frequency (log), and how far it still stands 2-4 frames (46-92 ms) later: a rim's or a
    woodblock's ring against a snare's or a clap's noise."""
    _, _, _, freqs = sp.filters()
    band = sp.bins(*PARTIAL_HZ)
    hit = s.power[peak_frame, band].astype(np.float64) + 1e-20
    i = int(np.argmax(hit))
    later = s.power[peak_frame + 2: peak_frame + 5, band]
    later = (later.sum(axis=0) if later.shape[0] else s.power[peak_frame, band]).astype(np.float64) + 1e-20
    return np.array([np.log(hit[i] / np.median(hit)), np.log(freqs[band][i]),
                     np.log(later[max(0, i - 2): i + 3].max() / np.median(later))])


def compute(s: sp.Spectra, duration: float, feats: dict, shape: dict, tonalness: float, chroma: np.ndarray,
            x: np.ndarray | None = None) -> np.ndarray:
    """The sound's vector (float32, DIM). `shape` is category.envelope_shape(s), `feats`
    features.describe(...), `chroma` the energy-weighted chroma (12); `x` category.vector(...)
    when the caller has it (one-shots), else computed here (loops)."""
    if x is None:
        x = cat.vector(s, duration, feats, shape, tonalness)
    mean, scale = norm()
    z = np.clip((raw(s, x) - mean) / scale, -CLIP, CLIP)
    c = np.maximum(np.asarray(chroma, dtype=np.float64), 0.0)
    c = c / max(float(np.linalg.norm(c)), 1e-12) * tonalness * CHROMA_SCALE
    v = np.concatenate([z, c]).astype(np.float32)
    return np.nan_to_num(v, nan=0.0, posinf=CLIP, neginf=-CLIP)


def pack(v: np.ndarray) -> bytes:
    return np.asarray(v, dtype=np.float16).tobytes()


def unpack(b: bytes) -> np.ndarray:
    return np.frombuffer(b, dtype=np.float16).astype(np.float32)


def weights(aspect: str = "all") -> np.ndarray:
    """Per-dimension weights (squared-distance multipliers) for one aspect or for all."""
    if aspect not in ASPECT_NAMES:
        raise ValueError(f"unknown aspect {aspect!r} (known: {', '.join(ASPECT_NAMES)})")
    w = np.zeros(DIM, dtype=np.float32)
    for name, sl in ASPECTS.items():
        if aspect in ("all", name):
            w[sl] = ALL_WEIGHTS[name] if aspect == "all" else 1.0
    if aspect == "all":
        w[N_RAW:] *= CHROMA_ALL_WEIGHT
    return w


def sq_norms(matrix: np.ndarray) -> np.ndarray:
    """(n, len(ASPECT_NAMES)): each row's weighted squared norm under each aspect's weights, which
    the index keeps beside its matrix so that a lookup is one matrix-vector product (rough_sq)."""
    m = np.asarray(matrix, dtype=np.float32)
    return np.stack([np.einsum("ij,ij,j->i", m, m, weights(a)) for a in ASPECT_NAMES], axis=1)


def rough_sq(q: np.ndarray, matrix: np.ndarray, norms: np.ndarray, aspect: str = "all") -> tuple[np.ndarray, np.ndarray]:
    """Squared weighted distances as |m|^2 - 2 m.q + |q|^2 (`norms`: the rows' sq_norms column for
    `aspect`), ~10x faster than the difference form over 100,000 rows, and a bound on each value's
    float32 rounding error (cancellation: near rows are off by up to ~1e-5 of |m|^2 + |q|^2), so
    that a caller can pick candidates with it and rank them by distances()."""
    w = weights(aspect)
    q = np.asarray(q, dtype=np.float32)
    wq = w * q
    qq = float(q @ wq)
    d2 = norms - 2.0 * np.einsum("ij,j->i", matrix, wq) + qq  # not BLAS: its threads cost more CPU than they save here
    return d2, 1e-4 * (norms + qq) + 1e-6


def distances(q: np.ndarray, matrix: np.ndarray, aspect: str = "all") -> np.ndarray:
    """Weighted Euclidean distance of `q` (DIM,) to each row of `matrix` (n, DIM)."""
    w = weights(aspect)
    diff = np.asarray(matrix, dtype=np.float32) - np.asarray(q, dtype=np.float32)
    return np.sqrt(np.einsum("ij,ij,j->i", diff, diff, w))
