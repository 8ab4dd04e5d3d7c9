"""Category from audio alone: a kick named hit_0042.wav is still a kick.

One-shots: a multinomial logistic regression over descriptors of the sound (shape in time,
spectrum, MFCCs), trained on the dev corpus with labels from names and Hydrogen kit files
(tests/bench/train_category.py) and shipped as a small JSON of weights: inference is one matrix
product. Loops: drum-loop when percussive, melodic-loop when tonal (vocal loops need their name).
"""

from __future__ import annotations

import functools
import json
from importlib import resources

import numpy as np

from sp404d.analysis import spectra as sp

MODEL_FILE = "category_model.json"


def envelope_shape(s: sp.Spectra) -> dict:
    """Attack, decay and band balance: what tells a kick from a hat from a pad."""
    _, _, _, freqs = sp.filters()
    energy = s.energy
    peak_frame = int(np.argmax(energy))
    after = s.frame_db[peak_frame:]
    below = np.flatnonzero(after < -20.0)
    decay_s = (below[0] if below.size else after.size) / sp.FPS
    total = max(float(energy.sum()), 1e-20)
    band = s.power.sum(axis=0)
    return {
        "attack_s": peak_frame / sp.FPS,
        "decay_s": decay_s,
        "active_fraction": float((s.frame_db > -30.0).mean()),
        "sustain_db": _sustain_db(s.frame_db),
        "low_ratio": float(band[freqs < 150].sum() / total),
        "mid_ratio": float(band[(freqs >= 150) & (freqs < 2000)].sum() / total),
        "high_ratio": float(band[freqs >= 5000].sum() / total),
    }


def _sustain_db(frame_db: np.ndarray) -> float:
    """Mean level of the last quarter minus the first quarter (dB)."""
    q = max(1, frame_db.size // 4)
    return float(frame_db[-q:].mean() - frame_db[:q].mean())


def vector(duration: float, features: dict, shape: dict, tonalness: float) -> np.ndarray:
    """The model's input. Order matters: it must match the trained weights."""
    head = [
        np.log(max(duration, 1e-3)),
        np.log(max(features["centroid_hz"], 1.0)),
        np.log(max(features["bandwidth_hz"], 1.0)),
        np.log(max(features["rolloff_hz"], 1.0)),
        features["flatness"],
        features["zcr"],
        np.log(features["hp_ratio"] + 1e-3),
        np.log1p(features["onset_rate"]),
        np.log(shape["attack_s"] + 1e-3),
        np.log(shape["decay_s"] + 1e-3),
        shape["active_fraction"],
        shape["low_ratio"],
        shape["mid_ratio"],
        shape["high_ratio"],
        tonalness,
    ]
    return np.array(head + list(features["mfcc_mean"]) + list(features["mfcc_std"]), dtype=np.float64)


@functools.lru_cache(maxsize=1)
def model() -> dict:
    text = resources.files("sp404d.analysis").joinpath(MODEL_FILE).read_text("utf-8")
    m = json.loads(text)
    return {"classes": m["classes"], "mean": np.array(m["mean"]), "scale": np.array(m["scale"]),
            "coef": np.array(m["coef"]), "intercept": np.array(m["intercept"])}


def probabilities(x: np.ndarray) -> dict[str, float]:
    m = model()
    z = (x - m["mean"]) / m["scale"]
    logits = m["coef"] @ z + m["intercept"]
    p = np.exp(logits - logits.max())
    p /= p.sum()
    return dict(zip(m["classes"], p.tolist()))


def most_likely(odds: dict[str, float]) -> tuple[str, float]:
    best = max(odds, key=odds.get)
    return best, round(odds[best], 3)


def loop_category(features: dict, tonalness: float) -> tuple[str, float]:
    percussive = features["hp_ratio"] < 1.0 or features["flatness"] > 0.2
    if percussive and tonalness < 0.3:
        return "drum-loop", 0.7
    if not percussive and tonalness >= 0.2:
        return "melodic-loop", 0.7
    return ("drum-loop", 0.55) if features["hp_ratio"] < 2.0 else ("melodic-loop", 0.55)
