"""Loop or one-shot, and the tempo of loops.

Tempo from audio: the autocorrelation of the onset envelope, scored as a comb (a real beat period
also repeats at 2x and 4x) under a broad prior around 110 BPM.

The duration rule: a loop cut to a whole number of bars pins its tempo exactly
(duration = bars x 4 x 60 / BPM), which leaves only the bar count to choose (1, 2, 4, 8 ... apart
by octaves). A loop is cyclic, so the bar is where its circular autocorrelation repeats while
half a bar does not; bands are kept apart (kick, snare and hat do not stand in for each other);
and a snare that returns every half bar (the backbeat) marks beats 2 and 4, found per sound by
splitting the loop with NMF. That bar evidence, a prior over tempos and the comb salience pick the
count, as probabilities (WEIGHTS, fitted on the real dev set; see tests/bench/bench_real.py): the
likeliest count's probability is the tempo's confidence, and a runner-up nearly as likely (a
half-time feel, a double-time hat) is kept as bpm_alt.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from sp404d.analysis import spectra as sp

BPM_MIN, BPM_MAX = 50.0, 220.0
PRIOR_CENTRE, PRIOR_OCTAVES = 110.0, 0.9
BAR_COUNTS = (1, 2, 3, 4, 6, 8, 12, 16, 24, 32)
TEMPO_MAX_FRAMES = int(60 * sp.FPS)  # tempo from the first minute at most


@dataclass(frozen=True)
class Rhythm:
    onsets: int
    periodicity: float        # 0..1: how strongly the onsets repeat
    bpm: float | None
    bpm_confidence: float
    bpm_source: str | None    # "duration" or "audio"
    bars: int | None
    bpm_alt: float | None = None  # the runner-up reading (usually an octave away) when it is nearly as likely


def _autocorrelation(env: np.ndarray) -> np.ndarray:
    e = env - env.mean()
    n = 1 << int(np.ceil(np.log2(2 * e.size)))
    spectrum = np.fft.rfft(e, n)
    ac = np.fft.irfft(spectrum * np.conj(spectrum), n)[: e.size]
    return ac / ac[0] if ac[0] > 0 else np.zeros_like(ac)


def _at(ac: np.ndarray, lags: np.ndarray) -> np.ndarray:
    """Autocorrelation at fractional lags (linear interpolation); 0 beyond the signal."""
    return np.interp(lags, np.arange(ac.size), ac, left=0.0, right=0.0)


def salience(ac: np.ndarray, bpm) -> np.ndarray:
    """How well each tempo in `bpm` explains the onsets: a comb over the beat period and its
    multiples, under a log-normal prior."""
    bpm = np.asarray(bpm, dtype=np.float64)
    lag = 60.0 * sp.FPS / bpm
    comb = _at(ac, lag) + 0.5 * _at(ac, 2 * lag) + 0.25 * _at(ac, 4 * lag)
    prior = np.exp(-0.5 * (np.log2(bpm / PRIOR_CENTRE) / PRIOR_OCTAVES) ** 2)
    return np.maximum(comb, 0.0) * prior


_GRID = np.arange(BPM_MIN, BPM_MAX, 0.25)


def _audio_tempo(ac: np.ndarray) -> tuple[float, float]:
    grid = _GRID
    scores = salience(ac, grid)
    best = int(np.argmax(scores))
    if 0 < best < grid.size - 1:  # parabolic refinement between grid points
        a, b, c = scores[best - 1: best + 2]
        denom = a - 2 * b + c
        shift = 0.5 * (a - c) / denom if denom else 0.0
        return float(grid[best] + shift * 0.25), float(scores[best])
    return float(grid[best]), float(scores[best])


BANDS = ((0, 12), (12, 60), (60, 128))  # mel bands: kick/bass, snare/chords, hats
SNARE_BAND = (70, 110)                  # mel bands where a snare's noise stands out
SOUNDS = 3                              # NMF components: the few sounds a loop repeats
# Weights of the bar-count choice: a conditional logit (softmax over the candidate counts of one
# file) fitted by tests/bench/fit_tempo.py on the real dev set (../shared/corpus/build_real_devset.sh:
# LMMS and Hydrogen song excerpts and folk-tune renders, tempo from the songs' own files) together
# with 150 fixture loops (fixtures/music.loop_set, seed 11) at half weight, so that neither the dev
# set's songs nor the synthetic loops alone set them. Right bar count, 2-fold cross-validated with
# the folds grouped by source song (3 fold draws): songloops 85-88 %, hydrogen songs 98-100 %,
# tonal loops 92-95 %, fixtures 96-98 % (without the bass column: 81-83, 98-100, 93-95, 94-96 %).
# Features of a count: the bar repeats (against half a bar), a power-of-two count, the comb salience
# of its tempo, the quarter-bar echo, the band and per-sound backbeat (a snare every half bar, not
# every beat), where the kick and the hats recur (a kick on the half beat says the count is too
# slow, a kick on the beat and eighth-note hats mark the beat), and how busy the loop is times
# log2(bpm / 110): a busy loop moves the prior over tempos up, a sparse one down; and where the bass
# changes pitch against the count's beat grid (_on_off_beat of bass_flux, weighed negative): a grid
# whose beats catch the bass changes and whose off-beats miss them is most often a half-tempo reading
# (its beats fall on 1 and 3 of the true bar, where bass notes and chord roots move; its off-beats on
# 2 and 4), while at the true tempo the bass moves on eighths too. The prior itself
# is fixed, not fitted: -log2(bpm / 110)^2, a log-normal centred on 110 BPM.
WEIGHTS = np.array([0.95, 5.68, 12.85, -10.30, -0.42, -0.47, -4.66, 1.87, 5.61, 4.77, -4.27])
BUSY_RATE = 4.0  # onsets per second
PRIOR_BPM = 110.0
# The likeliest count's probability overstates how often it is right (cross-validated, a raw 0.9
# was right 88 % of the time, 0.8 right 83 %, 0.7 right 71 %); Platt scaling fitted on those
# cross-validated probabilities (fit_tempo.py) makes the confidence say it: sigmoid(a logit(p) + b).
CALIBRATION = (0.813, 0.008)
ALT_MIN = 0.2  # a runner-up count this likely is kept as bpm_alt
SHORT_LOOP_SECONDS = 2.5  # a loop this short holds one or two bars...
SHORT_SUPPORT = 0.15      # ...and whole bars need only this share of the best beat's salience (else half)


def _flux(log_mel: np.ndarray, lo: int, hi: int) -> np.ndarray:
    """The onset flux of mel bands lo..hi."""
    return np.concatenate([[0.0], np.maximum(0.0, np.diff(log_mel[:, lo:hi], axis=0)).mean(axis=1)])


def _circular_acf(log_mel: np.ndarray, lo: int, hi: int, e: np.ndarray | None = None) -> np.ndarray:
    """Circular autocorrelation of the onset flux of mel bands lo..hi (a loop wraps around)."""
    e = _flux(log_mel, lo, hi) if e is None else e
    e = e - e.mean()
    f = np.fft.rfft(e)
    a = np.fft.irfft(f * np.conj(f), e.size)
    return a / a[0] if a[0] > 0 else a


def _sound_acfs(mel: np.ndarray) -> list[np.ndarray]:
    """Split the loop into the few sounds it repeats (NMF on the mel spectrogram) and return the
    circular autocorrelation of each sound's onsets: a real snare is found wherever its energy
    sits, not only in a fixed band."""
    from sklearn.decomposition import NMF
    from sklearn.exceptions import ConvergenceWarning

    x = np.sqrt(np.maximum(mel, 0.0))
    if x.shape[0] < 8 or not x.any():
        return []
    with warnings.catch_warnings():  # rough activations are all the backbeat needs: 150 iterations do
        warnings.simplefilter("ignore", ConvergenceWarning)
        activations = NMF(n_components=SOUNDS, init="nndsvda", max_iter=150, random_state=0).fit_transform(x)
    out = []
    for j in range(activations.shape[1]):
        e = np.concatenate([[0.0], np.maximum(0.0, np.diff(activations[:, j]))])
        e = e - e.mean()
        f = np.fft.rfft(e)
        a = np.fft.irfft(f * np.conj(f), e.size)
        if a[0] > 0:
            out.append(a / a[0])
    return out


def _circular_at(a: np.ndarray, lag: float) -> float:
    return float(np.interp(lag % a.size, np.arange(a.size), a))


BASS_HZ = (30.0, 260.0)  # the bass band whose pitch changes (bass notes, chord roots) are followed
BASS_PHASES = 8          # beat-grid offsets tried (a loop may not start exactly on its downbeat)


def bass_flux(power: np.ndarray) -> np.ndarray:
    """Where the bass changes pitch: the rise of the bass band's chroma (all its power folded
    onto the 12 pitch classes, log-compressed) from frame to frame. A new bass note or chord root
    lights up a new pitch class; a held note does not."""
    _, chroma_fb, _, _ = sp.filters()
    band = sp.bins(*BASS_HZ)
    c = power[:, band] @ chroma_fb[:, band].T
    c = np.log1p(c * (100.0 / max(float(c.max()), 1e-12)))
    return np.concatenate([[0.0], np.maximum(0.0, np.diff(c, axis=0)).sum(axis=1)])


def _on_off_beat(e: np.ndarray, beats: int) -> float:
    """How much more `e` rises on a grid of `beats` beats than halfway between them, at the grid
    offset where the contrast is largest: (on - off) / (on + off), each the peak within a frame."""
    n = e.size
    beat = n / beats
    grid = np.arange(beats)[None, :] * beat + np.linspace(0.0, beat, BASS_PHASES, endpoint=False)[:, None]
    peak = np.maximum(np.maximum(e, np.roll(e, 1)), np.roll(e, -1))  # e at +-1 frame, circular
    on = peak[np.round(grid).astype(int) % n].mean(axis=1)
    off = peak[np.round(grid + beat / 2).astype(int) % n].mean(axis=1)
    return float(np.max((on - off) / (on + off + 1e-9)))


def candidates(log_mel: np.ndarray, mel: np.ndarray, duration: float, ac: np.ndarray,
               bass: np.ndarray | None = None) -> tuple[list[int], np.ndarray, np.ndarray]:
    """Every whole number of bars in the tempo range, with its evidence (one row of features per
    count, the columns WEIGHTS weighs) and its prior; tests/bench/fit_tempo.py fits on these.
    `bass`: bass_flux of the same frames (without it, that column is 0 for every count and
    does not move the choice)."""
    fluxes = [_flux(log_mel, lo, hi) for lo, hi in BANDS]
    low, mid, high = (_circular_acf(log_mel, lo, hi, e) for (lo, hi), e in zip(BANDS, fluxes))
    circular = (low + mid + high) / 3
    snare = _circular_acf(log_mel, *SNARE_BAND)
    sounds = _sound_acfs(mel)
    frames = circular.size
    # how busy the loop is: log2 of its onsets per second against 4; it moves the prior over tempos
    # (a busy loop is likelier fast, a sparse one slow, whatever its length)
    busy = float(np.log2(max(sp.pick_onsets(sum(fluxes)).size, 1) * sp.FPS / frames / BUSY_RATE))
    counts, rows, priors = [], [], []
    for n in BAR_COUNTS:
        bpm = n * 240.0 / duration
        if not BPM_MIN <= bpm <= BPM_MAX:
            continue
        bar = frames / n
        # the backbeat: a snare comes back every half bar, not every beat
        backbeat = _circular_at(snare, bar / 2) - _circular_at(snare, bar / 4)
        sound_backbeat = max((_circular_at(a, bar / 2) - _circular_at(a, bar / 4) for a in sounds), default=0.0)
        rows.append([_circular_at(circular, bar) - _circular_at(circular, bar / 2), float(n in (1, 2, 4, 8, 16)),
                     float(salience(ac, [bpm])[0]), _circular_at(circular, bar / 4), backbeat, sound_backbeat,
                     _circular_at(low, bar / 8), _circular_at(low, bar / 4), _circular_at(high, bar / 8),
                     busy * float(np.log2(bpm / PRIOR_BPM)),
                     _on_off_beat(bass, 4 * n) if bass is not None and bass.size == frames else 0.0])
        priors.append(-float(np.log2(bpm / PRIOR_BPM)) ** 2)
        counts.append(n)
    return counts, np.array(rows).reshape(len(counts), WEIGHTS.size), np.array(priors)


def _bar_count(log_mel: np.ndarray, mel: np.ndarray, duration: float, ac: np.ndarray,
               bass: np.ndarray | None = None) -> list[tuple[int, float]]:
    """Every whole number of bars in the tempo range with its probability, likeliest first."""
    counts, rows, priors = candidates(log_mel, mel, duration, ac, bass)
    if not counts:
        return []
    z = rows @ WEIGHTS + priors
    p = np.exp(z - z.max())
    p /= p.sum()
    return sorted(zip(counts, p.tolist()), key=lambda c: -c[1])


def calibrated(probability: float) -> float:
    """The bar count's probability as a confidence that means what it says (CALIBRATION)."""
    a, b = CALIBRATION
    q = min(max(probability, 1e-6), 1 - 1e-6)
    return float(1.0 / (1.0 + np.exp(-(a * np.log(q / (1 - q)) + b))))


@dataclass(frozen=True)
class Pulse:
    """What every file gets: how many onsets, how strongly they repeat, and the autocorrelation
    that tempo estimation reuses (computed once)."""

    onsets: int
    periodicity: float
    ac: np.ndarray

    def without_tempo(self) -> Rhythm:
        return Rhythm(self.onsets, self.periodicity, None, 0.0, None, None)


def pulse(env: np.ndarray) -> Pulse:
    onsets = int(sp.pick_onsets(env).size)
    env = env[:TEMPO_MAX_FRAMES]
    ac = _autocorrelation(env) if env.size > 8 else np.zeros(1)
    lags = (60.0 * sp.FPS / np.array([BPM_MAX, BPM_MIN])).astype(int)
    periodicity = float(np.clip(ac[lags[0]:lags[1]].max(), 0, 1)) if ac.size > lags[1] else 0.0
    return Pulse(onsets, periodicity, ac)


WRAP_EDGE_SECONDS = 0.1  # the level at a file's start and end: its first and last tenth of a second
BALANCE_LOW, BALANCE_HIGH = 10, 80  # mel bands below ~250 Hz against those above ~3.3 kHz (Wrap.turns)


@dataclass(frozen=True)
class Wrap:
    """Whether a file goes on where it ends, as a loop cut on bar lines does (played again, its end
    runs into its start). A one-shot starts with a hit or a fade-in and ends in its tail."""

    recurs: float    # the bands' onsets recur across the wrap: circular autocorrelation at the beat or half bar
                     # of the best whole-bar tempo (a strum, a flam, a decaying hit: near 0)
    support: float   # the onset envelope's salience at the best whole-bar tempo (or an octave of it) against
                     # its best tempo: the test tempo() trusts whole bars by
    start_db: float  # the first tenth of a second against the median level: a hit stands 20-40 dB above
                     # its tail, a fade-in starts below; a bar of music starts at about its own level
    end_db: float    # the last tenth of a second against the median level: a tail or a release ends below
    turns: float = 0.0  # how much the balance of low against high bands moves from frame to frame (dB, mean
                        # over the loud frames): kick, hats and bass in turn swing it 1.3-7.6 dB in the dev
                        # set's loops; a strum or a ringing hit changes colour slowly (0.7-0.8)


def wrap(p: Pulse, log_mel: np.ndarray, frame_db: np.ndarray, duration: float) -> Wrap | None:
    """The wrap-around evidence of a file of at least one fast bar (None when too short, or longer
    than tempo() reads). Cheap: three band fluxes, their circular autocorrelations and a comb."""
    frames = log_mel.shape[0]
    if duration < 1.2 or p.ac.size < 4 or not 8 < frames <= TEMPO_MAX_FRAMES:
        return None
    circular = sum(_circular_acf(log_mel, lo, hi) for lo, hi in BANDS) / len(BANDS)
    _, audio_score = _audio_tempo(p.ac)
    recurs, support = 0.0, 0.0
    for n in BAR_COUNTS:
        bpm = n * 240.0 / duration
        if not BPM_MIN <= bpm <= BPM_MAX:
            continue
        bar = frames / n
        recurs = max(recurs, _circular_at(circular, bar / 4), _circular_at(circular, bar / 2))
        support = max(support, max(float(salience(p.ac, [bpm * f])[0]) for f in (0.5, 1.0, 2.0)))
    edge = max(2, int(WRAP_EDGE_SECONDS * sp.FPS))
    level = float(np.median(frame_db))
    loud = frame_db > frame_db.max() - 30.0
    balance = log_mel[loud, :BALANCE_LOW].mean(axis=1) - log_mel[loud, BALANCE_HIGH:].mean(axis=1)
    turns = float(np.abs(np.diff(balance)).mean()) if balance.size > 3 else 0.0
    return Wrap(recurs, support / audio_score if audio_score > 0 else 0.0,
                float(frame_db[:edge].mean()) - level, float(frame_db[-edge:].mean()) - level, turns)


def tempo(p: Pulse, duration: float, log_mel: np.ndarray | None = None, mel: np.ndarray | None = None,
          power: np.ndarray | None = None) -> Rhythm:
    """The tempo of a loop: whole bars when the audio supports them, else the audio's own estimate.
    `power`: the STFT power of the same frames, for where the bass changes (bass_flux)."""
    ac = p.ac
    if ac.size < 4:
        return p.without_tempo()
    audio_bpm, audio_score = _audio_tempo(ac)
    whole = log_mel is not None and mel is not None and 8 < log_mel.shape[0] <= TEMPO_MAX_FRAMES
    bass = bass_flux(power) if whole and power is not None else None
    ranked = _bar_count(log_mel, mel, duration, ac, bass) if whole else []
    if ranked:
        bars, probability = ranked[0]
        bpm = bars * 240.0 / duration
        # trust whole bars only when the audio hears a beat at that tempo or an octave of it
        support = max(float(salience(ac, [bpm * f])[0]) for f in (0.5, 1.0, 2.0))
        # one bar or two: too few beats for the audio's own estimate to beat the file's length
        enough = SHORT_SUPPORT if duration <= SHORT_LOOP_SECONDS else 0.5
        if audio_score > 0 and support >= enough * audio_score:
            alt = next((round(n * 240.0 / duration, 2) for n, q in ranked[1:2] if q >= ALT_MIN), None)
            return Rhythm(p.onsets, p.periodicity, round(bpm, 2), round(float(np.clip(calibrated(probability), 0.3, 0.97)), 3),
                          "duration", bars, alt)
    confidence = round(float(np.clip(audio_score, 0.05, 0.9)), 3)
    return Rhythm(p.onsets, p.periodicity, round(audio_bpm, 2), confidence, "audio", None)


def bars_for(bpm: float, duration: float, tolerance: float = 0.01) -> int | None:
    """How many whole 4/4 bars `duration` holds at `bpm`, if it is (nearly) a whole number."""
    bars = duration * bpm / 240.0
    nearest = round(bars)
    return nearest if nearest >= 1 and abs(bars - nearest) <= tolerance * max(nearest, 1) else None
