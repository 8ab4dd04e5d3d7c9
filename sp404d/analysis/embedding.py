"""A vector per sound for "more like this": timbre, envelope and pitch, each weighable.

Computed by the worker from what describe() already has (no second decode, no second STFT). The
raw descriptors are those the category model hears (category.vector: spectral shape, MFCC
statistics, each band's decay, the hit's fine envelope, the body's spectrum), which tell a kick
from a tom from a clap far better than MFCCs alone (tests/bench/bench_similar.py measures it:
precision@10 of same-category neighbours 0.75 against 0.63 for MFCC and spectral statistics), plus
the chroma for pitch. Each descriptor is standardised with constants measured over the dev corpus
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

VERSION = 2
NORM_FILE = "embedding_norm.json"
N_CHROMA = 12
CLIP = 8.0  # standardised values beyond this are outliers (silence, a glitch): kept from dominating

# category.vector's 74 descriptors by aspect (its order: 15 head values, 13 MFCC means, 13 MFCC
# standard deviations, 5 band decays, hit and body centroid, hit and body low peak, hit mid
# flatness, 7 fine-envelope values, 9 body octaves, body peakiness, 3 contrasts, body flatness,
# strongest body frequency, flux)
_TIMBRE = [1, 2, 3, 4, 5, 6, 11, 12, 13, *range(15, 41), 46, 47, 50, *range(58, 67), 68, 69, 70, 71]
_ENVELOPE = [0, 7, 8, 9, 10, *range(41, 46), *range(51, 58), 73]
_PITCH = [14, 48, 49, 67, 72]
_C0 = 15  # MFCC c0: the level, replaced by the level relative to the loudest band
N_RAW = 74
assert sorted(_TIMBRE + _ENVELOPE + _PITCH) == list(range(N_RAW))
ORDER = np.array(_TIMBRE + _ENVELOPE + _PITCH)

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
    return r[ORDER]


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


def distances(q: np.ndarray, matrix: np.ndarray, aspect: str = "all") -> np.ndarray:
    """Weighted Euclidean distance of `q` (DIM,) to each row of `matrix` (n, DIM)."""
    w = weights(aspect)
    diff = np.asarray(matrix, dtype=np.float32) - np.asarray(q, dtype=np.float32)
    return np.sqrt(np.einsum("ij,ij,j->i", diff, diff, w))
