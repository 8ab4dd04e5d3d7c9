"""Key and scale from chroma, by correlation with published key profiles.

Several profiles are kept so the accuracy benchmark can compare them on fixtures with known keys;
DEFAULT_PROFILE is the one it chose (see the benchmark's table and the issue note).
"""

from __future__ import annotations

import numpy as np

from sp404d.analysis import spectra as sp

PROFILES = {
    # Krumhansl & Kessler (1982), probe-tone ratings
    "krumhansl": ([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88],
                  [6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17]),
    # Temperley (2007), Kostka-Payne corpus
    "temperley": ([0.748, 0.060, 0.488, 0.082, 0.670, 0.460, 0.096, 0.715, 0.104, 0.366, 0.057, 0.400],
                  [0.712, 0.084, 0.474, 0.618, 0.049, 0.460, 0.105, 0.747, 0.404, 0.067, 0.133, 0.330]),
    # Aarden (2003), Essen folk-song corpus
    "aarden": ([17.7661, 0.145624, 14.9265, 0.160186, 19.8049, 11.3587, 0.291248, 22.062, 0.145624, 8.15494, 0.232998, 4.95122],
               [18.2648, 0.737619, 14.0499, 16.8599, 0.702494, 14.4362, 0.702494, 18.6161, 4.56621, 1.93186, 7.37619, 1.75623]),
    # Albrecht & Shanahan (2013)
    "albrecht": ([0.238, 0.006, 0.111, 0.006, 0.137, 0.094, 0.016, 0.214, 0.009, 0.080, 0.008, 0.081],
                 [0.220, 0.006, 0.104, 0.123, 0.019, 0.103, 0.012, 0.214, 0.062, 0.022, 0.061, 0.052]),
    # Bellman & Budge (2005)
    "bellman": ([16.80, 0.86, 12.95, 1.41, 13.49, 11.93, 1.25, 20.28, 1.80, 8.04, 0.62, 10.57],
                [18.16, 0.69, 12.99, 13.34, 1.07, 11.15, 1.38, 21.07, 7.49, 1.53, 0.92, 10.21]),
}
# The profiles counted from corpora of real music (all but Krumhansl-Kessler's probe-tone ratings),
# averaged: on the real dev set's 100 folk-tune loops with declared keys each alone gets 66-70 % and
# Krumhansl-Kessler 51 % (it had won on the synthetic fixtures, whose chords sound every triad note
# alike); their mean 68 % exact, MIREX 0.77, with no single corpus's habits.
CORPUS_PROFILES = ("temperley", "aarden", "albrecht", "bellman")
DEFAULT_PROFILE = "corpus"
OPENING_WEIGHT = 0.3            # how much the opening chord counts against the whole-file profile match
OPENING_SECONDS = 0.5
KEY_TEMPERATURE, KEY_CEILING = 0.12, 0.9  # the peaks' chroma (chords): as fitted before on the folk-tune loops
MELODY_TEMPERATURE, MELODY_CEILING = 0.07, 0.95  # the notes' chroma (melodies), refitted on the same loops


def _templates(profile: str) -> np.ndarray:
    """(24, 12) z-scored templates: 12 major keys then 12 minor keys ("corpus": the mean of the
    CORPUS_PROFILES' templates)."""
    if profile == "corpus":
        return sum(_templates(p) for p in CORPUS_PROFILES) / len(CORPUS_PROFILES)
    major, minor = (np.asarray(p, dtype=np.float64) for p in PROFILES[profile])
    rows = [np.roll(major, k) for k in range(12)] + [np.roll(minor, k) for k in range(12)]
    t = np.array(rows)
    return (t - t.mean(axis=1, keepdims=True)) / t.std(axis=1, keepdims=True)


_CACHE: dict[str, np.ndarray] = {}


def profile_chroma(chroma: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """One 12-vector: frame chroma averaged with the frames' energy as weight."""
    w = np.maximum(weights, 0)
    if w.sum() <= 0:
        w = np.ones_like(w)
    return (chroma * w[:, None]).sum(axis=0) / w.sum()


def peak_chroma(s: sp.Spectra) -> np.ndarray:
    """The whole file's chroma of its spectral peaks, energy-weighted: tonalness, the embedding and a
    chord loop's key all read it (describe computes it once)."""
    return profile_chroma(sp.chroma(s), s.energy)


NOTE_COMPRESSION = 10.0  # log1p(10 x): the most frequent note counts ~2.4 times one a tenth as common, not 10
MELODY_VOICES = 2.2  # spectra.note_chroma's pitch classes per frame below which a loop is a melody


def loop_key(s: sp.Spectra, peaks: np.ndarray | None = None) -> tuple[int, str, float, float]:
    """estimate() of a loop, from loop_vectors(), with the confidence scale of what was read.
    `peaks`: peak_chroma(s), when the caller has it already."""
    vector, opening, melody = loop_vectors(s, peaks)
    if melody:
        return estimate(vector, opening, temperature=MELODY_TEMPERATURE, ceiling=MELODY_CEILING)
    return estimate(vector, opening)


def loop_vectors(s: sp.Spectra, peaks: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, bool]:
    """A loop's pitch content for estimate(): the whole-file vector, the opening's (the first
    half second of sound), and whether it was read as a melody.

    A melody (one note at a time) is read from its notes (spectra.note_chroma), frames weighted by
    amplitude (not energy: a held note's loud attack must not outweigh the notes around it),
    log-compressed (a tune's few most frequent notes must not decide alone which scale it is in).
    On the real dev set's 100 folk-tune loops, against the peaks' chroma: key exact 68 -> 81 %,
    MIREX 0.77 -> 0.87 (2-fold cross-validated over these choices: 79 %, 0.85). Chords keep the
    peaks' chroma weighted by energy: the note chroma keeps only each frame's strongest notes,
    which loses a chord's third (the fixtures' chord loops: 29 of 38 right with the peaks, 20
    with the notes)."""
    notes, voices = sp.note_chroma(s)
    start = int(np.argmax(s.frame_db > -30.0))
    opening = slice(start, start + int(OPENING_SECONDS * sp.FPS))
    if voices >= MELODY_VOICES:
        return peak_chroma(s) if peaks is None else peaks, sp.chroma(s, opening).sum(axis=0), False
    v = profile_chroma(notes, np.sqrt(s.energy) * (s.frame_db > -40.0))
    return np.log1p(NOTE_COMPRESSION * v / max(float(v.max()), 1e-12)), notes[opening].sum(axis=0), True


def _triad(index: int) -> np.ndarray:
    """The tonic triad of key `index` (0-11 major, 12-23 minor) as a 12-vector."""
    pc, minor = index % 12, index >= 12
    t = np.zeros(12)
    t[pc], t[(pc + (3 if minor else 4)) % 12], t[(pc + 7) % 12] = 1.0, 1.0, 0.8
    return t


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a - a.mean(), b - b.mean()
    d = np.linalg.norm(a) * np.linalg.norm(b)
    return float(a @ b / d) if d else 0.0


def estimate(vector: np.ndarray, opening: np.ndarray | None = None, profile: str = DEFAULT_PROFILE,
             opening_weight: float = OPENING_WEIGHT, temperature: float = KEY_TEMPERATURE,
             ceiling: float = KEY_CEILING) -> tuple[int, str, float, float]:
    """(pitch class, "major"/"minor", score of the best key, confidence 0..1).

    The whole-file chroma is matched against the profile; relative keys (C major / A minor) share
    their notes, so the four best candidates are re-ranked by how well the opening chord matches
    each one's tonic triad: a loop or a stab usually starts on its home chord. Confidence grows
    with how far the best key stands above the others."""
    if profile not in _CACHE:
        _CACHE[profile] = _templates(profile)
    v = np.asarray(vector, dtype=np.float64)
    if v.std() == 0:
        return 0, "major", 0.0, 0.0
    z = (v - v.mean()) / v.std()
    scores = _CACHE[profile] @ z / 12.0
    if opening is not None and np.asarray(opening).std() > 0:
        for idx in np.argsort(scores)[::-1][:4]:
            scores[idx] += opening_weight * _corr(np.asarray(opening, dtype=np.float64), _triad(int(idx)))
    order = np.argsort(scores)[::-1]
    best = scores[order[0]]
    idx = int(order[0])
    # the best key's share of a softmax over the 24 (temperature and ceiling set so that, on the real
    # dev set's folk-tune loops, a confidence reads as the share right; MELODY_*: fitted by log-loss
    # over the 100 loops' note-chroma scores, those above 0.9 right 37 of 39 times, 0.6-0.9 ~80 %)
    share = np.exp((scores - best) / temperature)
    confidence = float(ceiling / share.sum())
    return idx % 12, "major" if idx < 12 else "minor", float(best), round(confidence, 3)


def tonalness(vector: np.ndarray) -> float:
    """0 for flat chroma (noise, most drums), towards 1 for a few strong pitch classes."""
    v = np.maximum(np.asarray(vector, dtype=np.float64), 0)
    if v.sum() <= 0:
        return 0.0
    p = v / v.sum()
    entropy = -(p[p > 0] * np.log2(p[p > 0])).sum()
    return float(1 - entropy / np.log2(12))


def fundamental_hz(mean_power: np.ndarray, freqs: np.ndarray) -> float | None:
    """Frequency of the lowest strong spectral peak (the fundamental of a single note)."""
    band = (freqs >= 30) & (freqs <= 2000)
    p = np.where(band, mean_power, 0.0)
    peaks = np.flatnonzero((p > np.roll(p, 1)) & (p > np.roll(p, -1)) & (p >= 0.1 * p.max()))
    if p.max() <= 0 or peaks.size == 0:
        return None
    i = int(peaks[0])
    if 0 < i < p.size - 1:  # parabolic interpolation between bins: 10.8 Hz bins are coarse for a bass
        a, b, c = np.log(p[i - 1: i + 2] + 1e-20)
        shift = 0.5 * (a - c) / (a - 2 * b + c) if (a - 2 * b + c) else 0.0
    else:
        shift = 0.0
    f = float(freqs[i] + shift * (freqs[1] - freqs[0]))
    return f if f > 0 else None
