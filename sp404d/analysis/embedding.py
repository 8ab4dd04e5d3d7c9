"""A vector per sound for "more like this": timbre, envelope and pitch, each weighable.

Computed by the worker from the Spectra it already has (no second decode, no second STFT). The
vector is three blocks, each scaled so that the block's typical spread is about one, so a weighted
Euclidean distance can turn an aspect up or down without one block drowning the others.

Pure: arrays in, numbers out. The library stores the vector packed (pack/unpack); the index
(library/similar_index.py) compares a query with many at once through distances().
"""

from __future__ import annotations

import numpy as np
from scipy.fft import dct

from sp404d.analysis import spectra as sp

VERSION = 1
N_MFCC = 13

# block layout: (name, size)
_BLOCKS = (("timbre", 2 * N_MFCC + 4), ("envelope", 5), ("pitch", 13))
ASPECTS: dict[str, slice] = {}
_at = 0
for _name, _size in _BLOCKS:
    ASPECTS[_name] = slice(_at, _at + _size)
    _at += _size
DIM = _at
ASPECT_NAMES = ("timbre", "envelope", "pitch", "all")

# how much each block counts in "all": timbre decides most of what a producer hears as "like"
ALL_WEIGHTS = {"timbre": 1.0, "envelope": 0.6, "pitch": 0.4}


def compute(s: sp.Spectra, duration: float, shape: dict, tonalness: float, chroma: np.ndarray) -> np.ndarray:
    """The sound's vector (float32, DIM). `shape` is category.envelope_shape(s); `chroma` the
    sound's energy-weighted chroma (12)."""
    active = s.active()
    coeffs = dct(s.log_mel[active], type=2, norm="ortho", axis=1)[:, :N_MFCC]
    _, _, _, freqs = sp.filters()
    power = s.power[active].sum(axis=0)
    total = max(float(power.sum()), 1e-20)
    centroid = float(power @ freqs) / total
    spread = float(np.sqrt(max(float(power @ (freqs * freqs)) / total - centroid ** 2, 0.0)))
    means = coeffs.mean(axis=0) / 40.0
    means[0] /= 10.0  # c0 is the level, in the hundreds: it must not outweigh the shape
    timbre = np.concatenate([
        means, coeffs.std(axis=0) / 10.0,
        [np.log2(max(centroid, 20.0) / 1000.0), np.log2(max(spread, 20.0) / 1000.0),
         shape["low_ratio"] * 2.0, shape["high_ratio"] * 2.0],
    ])
    envelope = np.array([
        np.log10(max(duration, 1e-3)) * 2.0,
        np.log10(shape["attack_s"] + 1e-3),
        np.log10(shape["decay_s"] + 1e-3) * 2.0,
        shape["active_fraction"] * 2.0,
        shape["sustain_db"] / 20.0,
    ])
    c = np.asarray(chroma, dtype=np.float64)
    c = c / max(float(np.linalg.norm(c)), 1e-12)
    pitch = np.concatenate([c * tonalness * 2.0, [tonalness * 2.0]])
    v = np.concatenate([timbre, envelope, pitch]).astype(np.float32)
    return np.nan_to_num(v, nan=0.0, posinf=0.0, neginf=0.0)


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
        if aspect == "all":
            w[sl] = ALL_WEIGHTS[name] / (sl.stop - sl.start)
        elif aspect == name:
            w[sl] = 1.0 / (sl.stop - sl.start)
    return w


def distances(q: np.ndarray, matrix: np.ndarray, aspect: str = "all") -> np.ndarray:
    """Weighted Euclidean distance of `q` (DIM,) to each row of `matrix` (n, DIM)."""
    w = weights(aspect)
    diff = matrix - q
    return np.sqrt(np.einsum("ij,ij,j->i", diff, diff, w))
