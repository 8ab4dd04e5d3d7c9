"""Category from audio alone: a kick named hit_0042.wav is still a kick.

One-shots: a multinomial logistic regression over descriptors of the sound (shape in time, each
band's own decay, the spectrum at the hit and in the body, MFCCs), trained on the dev corpus with
labels from Hydrogen kit files and LMMS folders (tests/bench/train_category.py) and shipped as a
small JSON of weights: inference is one matrix product. Loops: drum-loop when percussive,
melodic-loop when tonal (vocal loops need their name).
"""

from __future__ import annotations

import functools
import json
from importlib import resources

import numpy as np

from sp404d.analysis import spectra as sp

MODEL_FILE = "category_model.json"


# bands whose own decay tells drums apart: a kick's lows ring while its click dies, a closed hat's
# highs stop at once, an open hat's and a cymbal's keep going, a snare's wires sit in 1.5-5 kHz
BANDS_HZ = ((20, 120), (120, 400), (400, 1500), (1500, 5000), (5000, 11025))
BODY_FRAMES = slice(2, 10)  # 46-230 ms after the loudest frame: the body, past the attack
FINE_HOP = 64  # samples (2.9 ms at 22,050 Hz) for the hit's envelope
FLUX_FRAMES = int(4 * sp.FPS)  # a one-shot's movement shows in its first 4 s; a long pad need not be read whole
OCTAVE_EDGES_HZ = (30, 60, 120, 250, 500, 1000, 2000, 4000, 8000, 11025)


def envelope_shape(s: sp.Spectra) -> dict:
    """Attack, decay and band balance: what tells a kick from a hat from a pad."""
    _, _, _, freqs = sp.filters()
    energy = s.energy
    peak_frame = int(np.argmax(energy))
    after = s.frame_db[peak_frame:]
    total = max(float(energy.sum()), 1e-20)
    band = s.power.sum(axis=0)
    hit = s.power[peak_frame]
    body = s.power[peak_frame + BODY_FRAMES.start: peak_frame + BODY_FRAMES.stop].sum(axis=0)
    if not body.any():  # too short to have a body: the hit stands for it
        body = hit
    low = sp.bins(0, 400)
    wires = s.power[peak_frame: peak_frame + 8, sp.bins(1500, 5000)].astype(np.float64) + 1e-20
    return {
        "attack_s": peak_frame / sp.FPS,
        "decay_s": _decay_s(after),
        "active_fraction": float((s.frame_db > -30.0).mean()),
        "sustain_db": _sustain_db(s.frame_db),
        "low_ratio": float(band[sp.bins(0, 150)].sum() / total),
        "mid_ratio": float(band[sp.bins(150, 2000)].sum() / total),
        "high_ratio": float(band[sp.bins(5000, sp.SR)].sum() / total),
        "band_decay_s": [_band_decay_s(s.power[:, sp.bins(lo, hi)].sum(axis=1)) for lo, hi in BANDS_HZ],
        "hit_centroid_hz": _centroid(hit, freqs),
        "body_centroid_hz": _centroid(body, freqs),
        "hit_low_peak_hz": float(freqs[low][int(np.argmax(hit[low]))]),
        "body_low_peak_hz": float(freqs[low][int(np.argmax(body[low]))]),
        # geometric over arithmetic mean in 1.5-5 kHz over the hit: near 1 for a snare's wire noise
        "hit_mid_flatness": float(np.mean(np.exp(np.log(wires).mean(axis=1)) / wires.mean(axis=1))),
        "peak_frame": peak_frame,
    }


def fine_envelope(y: np.ndarray) -> list[float]:
    """The hit's shape at 2.9 ms steps (the STFT's 23 ms frames blur it): rise time, the times to
    fall 6, 12, 24 and 40 dB, the energy's centre in time, and the envelope's crest. A clap's
    bursts, a rim's click and a closed hat's snap differ here, not in the spectrum."""
    n = y.size // FINE_HOP * FINE_HOP
    if n < 4 * FINE_HOP:
        y, n = sp.zero_padded(y, 0, 4 * FINE_HOP), 4 * FINE_HOP
    blocks = y[:n].reshape(-1, FINE_HOP)
    env = np.sqrt(np.einsum("ij,ij->i", blocks, blocks) / FINE_HOP, dtype=np.float64) + 1e-9
    level = 20.0 * np.log10(env / env.max())
    peak = int(np.argmax(env))
    step = FINE_HOP / sp.SR

    def fall(db: float) -> float:
        below = np.flatnonzero(level[peak:] < -db)
        return float(below[0] if below.size else level.size - peak) * step

    rise = (peak - int(np.argmax(level > -20.0))) * step
    power = env * env
    centre = float((np.arange(env.size) * power).sum() / power.sum()) * step
    crest = float(np.log(env.max() / np.sqrt(power.mean())))
    return [np.log(rise + 1e-3)] + [np.log(fall(db) + 1e-3) for db in (6, 12, 24, 40)] + [np.log(centre + 1e-3), crest]


def body_spectrum(s: sp.Spectra, peak_frame: int) -> list[float]:
    """The spectrum just after the hit (23-160 ms), by octave and by how peaked it is: a cowbell,
    a tom and a bass note ring at a pitch, a shaker and a hat spread as noise. Then how much the
    sound moves in time (log-mel flux): a steady tone against a rattle."""
    _, _, _, freqs = sp.filters()
    body = s.power[peak_frame + 1: peak_frame + 8].sum(axis=0) if s.power.shape[0] > peak_frame + 2 \
        else s.power[peak_frame]
    body = body.astype(np.float64) + 1e-20
    octave_starts, tonal_band, contrast_bands, low_to_mid = _body_bands()
    octaves = np.log(np.add.reduceat(body, octave_starts)[:-1] / body.sum() + 1e-6)
    tonal = body[tonal_band]
    contrast = []
    for band in contrast_bands:
        ranked = np.sort(body[band])
        k = max(1, ranked.size // 5)
        contrast.append(np.log(ranked[-k:].mean() / ranked[:k].mean()))
    strongest_hz = float(freqs[low_to_mid][int(np.argmax(body[low_to_mid]))])
    moving = s.log_mel[:FLUX_FRAMES][s.active(-40.0)[:FLUX_FRAMES]]
    flux = float(np.abs(np.diff(moving, axis=0)).mean()) if moving.shape[0] > 1 else 0.0
    return octaves.tolist() + [np.log(tonal.max() / np.median(tonal))] + contrast + [
        float(np.exp(np.log(body).mean()) / body.mean()), np.log(strongest_hz + 10.0), flux]


@functools.lru_cache(maxsize=1)
def _body_bands() -> tuple[np.ndarray, slice, tuple[slice, ...], slice]:
    """body_spectrum's bands as bin indices, once: the octaves' first bins (and the last bin, so
    that reduceat's last sum is the one thrown away), the tonal band, the contrast bands, 30 Hz-5 kHz."""
    starts = [sp.bins(lo, OCTAVE_EDGES_HZ[-1]).start for lo in OCTAVE_EDGES_HZ[:-1]]
    starts.append(sp.bins(0, OCTAVE_EDGES_HZ[-1]).stop)
    return (np.array(starts), sp.bins(60, 5000), tuple(sp.bins(lo, hi) for lo, hi in ((60, 500), (500, 2000), (2000, 8000))),
            sp.bins(30, 5000))


def _decay_s(frame_db_after_peak: np.ndarray) -> float:
    below = np.flatnonzero(frame_db_after_peak < -20.0)
    return float(below[0] if below.size else frame_db_after_peak.size) / sp.FPS


def _band_decay_s(band_energy: np.ndarray) -> float:
    """Seconds from the band's own loudest frame until it falls 20 dB below it."""
    top = int(np.argmax(band_energy))
    level = float(band_energy[top])
    if level <= 0.0:
        return 0.0
    return _decay_s(10.0 * np.log10(band_energy[top:] / level + 1e-12))


def _centroid(spectrum: np.ndarray, freqs: np.ndarray) -> float:
    weight = float(spectrum.sum())
    return float((spectrum * freqs).sum() / weight) if weight > 0 else 0.0


def _sustain_db(frame_db: np.ndarray) -> float:
    """Mean level of the last quarter minus the first quarter (dB)."""
    q = max(1, frame_db.size // 4)
    return float(frame_db[-q:].mean() - frame_db[:q].mean())


def vector(s: sp.Spectra, duration: float, features: dict, shape: dict, tonalness: float) -> np.ndarray:
    """The model's input (one-shots only: the hit's fine shape is computed here, not for loops).
    Order matters: it must match the trained weights."""
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
    tail = [np.log(d + 0.01) for d in shape["band_decay_s"]] + [
        np.log(max(shape["hit_centroid_hz"], 1.0)),
        np.log(max(shape["body_centroid_hz"], 1.0)),
        np.log(shape["hit_low_peak_hz"] + 10.0),
        np.log(shape["body_low_peak_hz"] + 10.0),
        shape["hit_mid_flatness"],
    ] + fine_envelope(s.y) + body_spectrum(s, shape["peak_frame"])
    return np.array(head + list(features["mfcc_mean"]) + list(features["mfcc_std"]) + tail, dtype=np.float64)


@functools.lru_cache(maxsize=1)
def model() -> dict:
    return from_weights(json.loads(resources.files("sp404d.analysis").joinpath(MODEL_FILE).read_text("utf-8")))


def from_weights(m: dict) -> dict:
    """The model as inference uses it, from the weights train_category.py writes."""
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
