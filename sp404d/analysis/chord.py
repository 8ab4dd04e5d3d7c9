"""The notes of a one-shot, and the chord they make: root and quality of a guitar strum, a piano
chord in any inversion, a synth stab; a single note keeps its note and no scale.

Chroma from the STFT's 10.8 Hz bins cannot tell E2 from F2 (82 and 87 Hz), and a chord's
partials mislead it (a root's 5th harmonic is a major third, two octaves up, in a minor chord
too). So: one long FFT (0.74 s, 1.3 Hz bins) over the sounding part, after the strum has landed;
spectral peaks with their frequencies interpolated; the tuning from the peaks' deviations; then
notes taken greedily by harmonic summation (the pitch whose partials explain the most peak
energy), each note's partials removed before the next is sought. The notes' pitch classes,
weighted by salience, are matched against major and minor triads, and the lowest note (the bass)
counts for the root: an inversion still names its root by its notes, a root-position chord by
its bass too.
"""

from __future__ import annotations

import numpy as np

from sp404d.analysis import spectra as sp

N_FFT = 16384                 # 0.74 s at 22,050 Hz: 1.35 Hz bins
SETTLE_S = 0.12               # a strum's strings land within ~0.2 s; start after most have
FMIN, FMAX = 38.0, 4200.0
PEAK_FLOOR_DB = -60.0         # peaks below the strongest by more than this are ignored
HARMONICS = 10
MATCH_CENTS = 35.0
MAX_NOTES = 6
NOTE_FLOOR = 0.07             # a further note must reach this share of the first note's salience
BASS_WEIGHT = 0.35
TONE_MIN = 0.05              # each note of a triad needs this share of the weight
DYAD_MIN = 0.2               # root and third alone must both be this loud against the strongest note
CHORD_MIN = 0.5               # best triad's score (share of note weight) needed to call a chord


CANDIDATES = np.arange(int(np.floor(69 + 12 * np.log2(FMIN / 440))) + 1, int(69 + 12 * np.log2(1500 / 440)))
OFFSETS = 12 * np.log2(np.arange(1, HARMONICS + 1))
WEIGHTS = 1.0 / np.arange(1, HARMONICS + 1) ** 0.5
MAX_PEAKS = 80  # the strongest peaks carry the notes; the rest is floor


def _peaks(y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Frequencies (Hz, interpolated) and amplitudes of the spectral peaks of `y`."""
    seg = y[:N_FFT]
    if seg.size < N_FFT:
        seg = sp.zero_padded(seg, 0, N_FFT)
    mag = np.abs(np.fft.rfft(seg * np.hanning(N_FFT)))
    lo, hi = int(FMIN * N_FFT / sp.SR), int(FMAX * N_FFT / sp.SR)
    m = mag[lo - 1:hi + 1]
    if m.max() <= 0:
        return np.zeros(0), np.zeros(0)
    db = 20 * np.log10(m + 1e-12)
    mid = db[1:-1]
    is_peak = (mid > db[:-2]) & (mid >= db[2:]) & (mid > db.max() + PEAK_FLOOR_DB)
    idx = np.flatnonzero(is_peak) + 1
    if idx.size > MAX_PEAKS:
        idx = np.sort(idx[np.argsort(db[idx])[-MAX_PEAKS:]])
    a, b, c = db[idx - 1], db[idx], db[idx + 1]
    denom = a - 2 * b + c
    shift = np.where(denom != 0, 0.5 * (a - c) / np.where(denom != 0, denom, 1), 0.0)
    freqs = (idx + lo - 1 + shift) * sp.SR / N_FFT
    amps = 10 ** ((b - 0.25 * (a - c) * shift) / 20)
    return freqs, amps


def notes(y: np.ndarray) -> list[tuple[int, float, int]]:
    """(MIDI note, salience, partials found) of the notes sounding in `y` (22,050 Hz mono, starting
    at the hit), strongest first. A string's or a piano's note shows many partials; a drum's modes
    are single tones at inharmonic ratios, each a "note" of one partial."""
    freqs, amps = _peaks(y)
    if freqs.size == 0:
        return []
    midi = 69 + 12 * np.log2(freqs / 440.0)
    # tuning: the amplitude-weighted circular mean of the peaks' deviations from the semitone grid
    angle = 2 * np.pi * (midi - np.round(midi))
    w = amps ** 2
    tuning = float(np.angle((w * np.exp(1j * angle)).sum()) / (2 * np.pi))
    midi = midi - tuning
    left = amps.copy()  # amplitudes, not energies: a quiet third must not vanish beside a loud root
    found: list[tuple[int, float, int]] = []
    # every candidate's harmonics against every peak, once: (candidates, harmonics, peaks)
    hits = np.abs(midi[None, None, :] - (CANDIDATES[:, None, None] + OFFSETS[None, :, None])) * 100 <= MATCH_CENTS
    sounding = hits[:, 0, :].any(axis=1)  # the fundamental itself must sound
    weighted = WEIGHTS[None, :, None] * hits
    for _ in range(MAX_NOTES):
        scores = np.where(sounding, (weighted * left[None, None, :]).max(axis=2).sum(axis=1), 0.0)
        k = int(np.argmax(scores))
        best_s = float(scores[k])
        if best_s <= 0 or (found and best_s < NOTE_FLOOR * found[0][1]):
            break
        partials = int((hits[k] & (left[None, :] > 0.02 * amps.max())).any(axis=1).sum())
        found.append((int(CANDIDATES[k]), best_s, partials))
        sounding[k] = False
        left[hits[k].any(axis=0)] *= 0.1  # its partials are explained: others must find their own
    return found


TRIADS = {"major": (0, 4, 7), "minor": (0, 3, 7)}


def chord(found: list[tuple[int, float, int]], min_partials: int = 1) -> tuple[int, str | None, float] | None:
    """(root pitch class, "major"/"minor" or None for a single note or a bare fifth, confidence),
    from the notes with at least `min_partials` partials."""
    found = [f for f in found if f[2] >= min_partials]
    if not found:
        return None
    weight = np.zeros(12)
    for n, s, _ in found:
        weight[n % 12] += np.sqrt(s)
    weight /= weight.sum()
    loudest = np.zeros(12)
    for n, s, _ in found:
        loudest[n % 12] = max(loudest[n % 12], s / found[0][1])
    pcs = np.flatnonzero(weight >= 0.08)
    bass = min(n for n, _, _ in found) % 12
    if pcs.size <= 1 or (pcs.size == 2 and (pcs[1] - pcs[0]) in (5, 7)):
        top = bass if weight[bass] >= 0.08 else int(np.argmax(weight))
        if pcs.size == 2:  # a power chord: the root is the lower note of the fifth
            top = int(pcs[0]) if (pcs[1] - pcs[0]) == 7 else int(pcs[1])
        return top, None, round(float(min(0.9, 0.5 + weight[top] / 2)), 3)
    scores = []
    for root in range(12):
        for scale, steps in TRIADS.items():
            tones = [(root + k) % 12 for k in steps]
            inside = weight[tones].sum()
            if min(weight[tones[:2]]) < TONE_MIN:  # root and third decide the quality: both must sound
                continue
            if weight[tones[2]] < TONE_MIN and min(loudest[tones[:2]]) < DYAD_MIN:
                continue  # without its fifth, a third as faint as a stray partial is no chord
            s = inside - (1 - inside) + BASS_WEIGHT * (bass == root)
            scores.append((s, root, scale))
    scores.sort(reverse=True)
    if not scores or scores[0][0] < CHORD_MIN:  # no full triad: a note (with stray partials)
        top = bass if weight[bass] >= 0.08 else int(np.argmax(weight))
        return top, None, round(float(min(0.8, 0.4 + weight[top] / 2)), 3)
    (s1, root, scale), s2 = scores[0], (scores[1][0] if len(scores) > 1 else -1.0)
    confidence = float(np.clip(0.5 + (s1 - s2), 0.3, 0.95))
    return root, scale, round(confidence, 3)


def one_shot_notes(y: np.ndarray, onset: int) -> list[tuple[int, float, int]]:
    """The notes of a one-shot whose hit is at sample `onset` of `y` (22,050 Hz), from its settled part."""
    sounding = max(0, int(np.flatnonzero(np.abs(y) > 0.01 * np.abs(y).max())[-1]) - onset) if y.any() else 0
    start = onset + int(min(SETTLE_S, 0.25 * sounding / sp.SR) * sp.SR)  # a short hit: its settled part
    seg = y[start:start + N_FFT]
    if seg.size < N_FFT // 4:
        seg = y[onset:onset + N_FFT]
    return notes(seg)


def one_shot(y: np.ndarray, onset: int) -> tuple[int, str | None, float] | None:
    """The chord (or note) of a one-shot whose hit is at sample `onset` of `y` (22,050 Hz)."""
    return chord(one_shot_notes(y, onset))
