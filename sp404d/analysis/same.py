"""Are two files the same recording? The pure decision, from what the worker computed for each.

Two files are one sound when they are the same recording, whatever the container, codec, rate,
bit depth, gain, channel layout and leading or trailing silence. Separately recorded velocity
layers, round-robin hits, two strikes of one cymbal, a drum hit and a synth waveform are different
sounds, however alike. A false match is worse than a missed one: it hides a different sound from
search, kits and the card. So the waveform decides (signature.compare), with two witnesses beside it:

1. The same waveform: the whole sounds correlate (gain ignored) at least SAME_WAVEFORM, their
   heads too, and every octave of the head that carries signal agrees (`detail`). Two strikes of
   one low drum are two alike damped sines whose whole waveforms correlate up to 0.996 (BJA_Pacific
   BD_06 and BD_07), but their faint upper octaves do not agree; a copy keeps them. Between lossless
   files every band above DETAIL_SHARE counts; a lossy codec fills faint bands with its own noise,
   so with a lossy file only the bands it spends its bits on count, and the fingerprint must agree
   as well (its bits weigh every band alike: those strikes differ in 28-47 % of them).
2. A lossy copy the codec blurred: AAC, MP3 and Vorbis keep the attack but not the fine waveform
   of a long cymbal tail or of hi-hat noise (whole-sound correlation down to 0.4 over 8 s). There
   the fingerprint's evidence is stronger than the waveform's, and it is taken when it is strong
   (CODEC_BER), with the head still agreeing (CODEC_HEAD) and the sound long enough for the
   fingerprint to tell sounds apart at all.

Too short for the fingerprint: below FINGERPRINT_FRAMES loud frames (about 40 ms of sound) the
fingerprint cannot tell sounds apart: 4-13 % of unrelated pairs of such sounds in the dev corpus lie
within a bit error rate of 0.3, against under 0.1 % from 15 frames up (tests/bench/bench_dedupe.py
prints the table). Such short sounds are judged by their waveform alone.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sp404d.analysis import fingerprint as fpm
from sp404d.analysis import signature as sigm

FINGERPRINT_FRAMES = 15   # loud fingerprint frames from which the fingerprint discriminates

SAME_WAVEFORM = 0.96      # whole-sound and head correlation of "the same waveform" (the oracle's 0.95, with a margin)
SAME_DETAIL = 0.85        # least octave correlation between lossless files
SAME_DETAIL_LOSSY = 0.5   # ... over the loud octaves, when one is lossy
SAME_BER = 0.3            # the fingerprint must not disagree more than this (when it can judge)
SAME_BER_LOSSY = 0.25     # ... with a lossy file; but where its faint octaves survived the codec
FAINT_INTACT = 0.8        # (`detail` this high), the waveform says more, and SAME_BER holds; and
NEAR_IDENTICAL = 0.99     # where the heads are near-identical too, NEAR_IDENTICAL_BER: Vorbis at
NEAR_IDENTICAL_BER = 0.36  # q3 flips up to 35 % of the bits of a sustained tone, and 16-bit steps
                           # flip the bits of near-silent bands when a low drum is turned down

CODEC_BER = 0.22          # a blurred lossy copy: the fingerprint's evidence
CODEC_HEAD = 0.87         # ... and the attack still agrees,
CODEC_STRONG_BER = 0.17   # ... or, with stronger evidence from the fingerprint,
CODEC_STRONG_HEAD = 0.8   # ... agrees less (AAC and MP3 blur the attack of a hi-hat)
CODEC_DETAIL = 0.6        # ... in every loud octave (two strikes of one cymbal's bell: 0.45-0.52)
CODEC_CORRELATION = 0.3   # ... and the whole sound is not another one


@dataclass(frozen=True)
class Identity:
    """What one sound brings to the comparison."""
    fingerprint: fpm.Fingerprint
    signature: sigm.Signature
    lossless: bool


@dataclass(frozen=True)
class Verdict:
    same: bool
    ber: float            # fingerprint bit error rate (0 same .. ~0.5 unrelated)
    correlation: float    # of the whole waveforms, gain ignored
    why: str              # "waveform", "codec", or why not


NOT_COMPARED = Verdict(False, 1.0, 0.0, "durations differ")


def frames(f: fpm.Fingerprint) -> int:
    return f.loud_frames


def judge(a: Identity, b: Identity, ber: float | None = None) -> Verdict:
    """Whether a and b are the same recording. `ber` when already known (batched). Symmetric."""
    if not fpm.durations_agree(a.fingerprint, b.fingerprint):
        return NOT_COMPARED
    if ber is None:
        ber = fpm.distance(a.fingerprint, b.fingerprint)
    e = sigm.compare(a.signature, b.signature)
    return decide(e, ber, min(frames(a.fingerprint), frames(b.fingerprint)), a.lossless and b.lossless)


def decide(e: sigm.Evidence, ber: float, fingerprint_frames: int, lossless: bool) -> Verdict:
    """The rule, on the evidence alone (see the module's docstring)."""
    judges = fingerprint_frames >= FINGERPRINT_FRAMES
    if e.correlation >= SAME_WAVEFORM and e.head >= SAME_WAVEFORM:
        if lossless:
            faint = e.detail >= SAME_DETAIL
            limit = SAME_BER
        else:
            faint = e.detail_loud >= SAME_DETAIL_LOSSY
            limit = SAME_BER if e.detail >= FAINT_INTACT else SAME_BER_LOSSY
        if e.detail >= FAINT_INTACT and e.head >= NEAR_IDENTICAL:
            limit = NEAR_IDENTICAL_BER
        if faint and (not judges or ber <= limit):
            return Verdict(True, ber, e.correlation, "waveform")
    attack = (ber <= CODEC_BER and e.head >= CODEC_HEAD) or (ber <= CODEC_STRONG_BER and e.head >= CODEC_STRONG_HEAD)
    if (not lossless and judges and attack and e.detail_loud >= CODEC_DETAIL
            and e.correlation >= CODEC_CORRELATION):
        return Verdict(True, ber, e.correlation, "codec")
    return Verdict(False, ber, e.correlation, "different")


def worth_judging(a: Identity, others: list[Identity]) -> list[tuple[int, float]]:
    """(position, ber) of the others whose durations agree with a's and that neither the heads'
    spectral profiles nor the fingerprint already rule out (each in one batched pass, cheap), so
    the waveform comparison (costly) is left for the few that remain."""
    if not others:
        return []
    durations = np.array([b.fingerprint.duration for b in others])
    mine = a.fingerprint.duration
    agree = ((np.abs(np.log(np.maximum(durations, 1e-3) / max(mine, 1e-3))) < np.log(fpm.DURATION_RATIO))
             | (np.abs(durations - mine) < fpm.DURATION_SLACK))  # fingerprint.durations_agree, for all at once
    # no tier accepts heads that correlate less than this: SAME_WAVEFORM between lossless files,
    # CODEC_STRONG_HEAD with a lossy one
    lossless = np.array([b.lossless for b in others]) & a.lossless
    bounds = sigm.head_bound(a.signature, [b.signature for b in others])
    agree &= bounds >= np.where(lossless, SAME_WAVEFORM, CODEC_STRONG_HEAD) - sigm.BOUND_SLACK
    agree = [int(i) for i in np.flatnonzero(agree)]
    if not agree:
        return []
    bers = fpm.distances(a.fingerprint, [others[i].fingerprint for i in agree])
    short = frames(a.fingerprint) < FINGERPRINT_FRAMES
    # no tier accepts a higher bit error rate when the fingerprint can judge
    return [(i, float(ber)) for i, ber in zip(agree, bers)
            if ber <= NEAR_IDENTICAL_BER or short or frames(others[i].fingerprint) < FINGERPRINT_FRAMES]


def order_key(lossless: bool | None, samplerate: int, bit_depth: int | None, duration: float,
              peak_dbfs: float | None, pcm_hash: str) -> tuple:
    """The total order that chooses a group's canonical member: the best source first (lossless,
    then the higher rate, the greater depth, the longer file, the louder: a quieter copy lost
    bits), then the waveform hash (any fixed tie-break would do), so that the choice depends only
    on the files, never on the order they arrived in. Larger is better."""
    return (bool(lossless), samplerate or 0, bit_depth or 0, round(duration or 0.0, 3),
            round(peak_dbfs if peak_dbfs is not None else -200.0, 1), pcm_hash)

