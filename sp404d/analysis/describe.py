"""Everything a producer searches and builds kits by, from one decoded signal.

decode (once) -> 22,050 Hz mono -> one STFT -> features, onsets, tempo, chroma -> decisions that
weigh names and metadata against the audio, each value with its confidence and source.
"""

from __future__ import annotations

import numpy as np

from sp404d.analysis import category as cat
from sp404d.analysis import chord, decide, embedding, features, key, rhythm, tags
from sp404d.analysis import spectra as sp
from sp404d.analysis.decode import Decoded

FEATURE_SECONDS = 120.0  # features and tempo from the first two minutes of a long file
SILENT_PEAK = 10 ** (-80 / 20)  # -80 dBFS: below anything a sampler plays audibly


def tonal_vectors(s: sp.Spectra) -> tuple[np.ndarray, np.ndarray]:
    """The whole file's chroma (energy-weighted) and the opening chord's (the first half second of
    sound), as the benchmarks read them; describe itself needs only the first."""
    start = int(np.argmax(s.frame_db > -30.0))
    opening = sp.chroma(s, slice(start, start + int(key.OPENING_SECONDS * sp.FPS))).sum(axis=0)
    return key.peak_chroma(s), opening


_NOT_LOOKED = object()


def analysis_signal(d: Decoded) -> np.ndarray:
    """The mono 22,050 Hz signal everything is described from (the worker resamples it once)."""
    return sp.to_analysis_rate(d.excerpt[: int(FEATURE_SECONDS * d.samplerate)], d.samplerate)


def describe(d: Decoded, path: str, use_names: bool = True, y: np.ndarray | None = None) -> dict:
    """`y`: analysis_signal(d), when the caller has it already."""
    y = analysis_signal(d) if y is None else y
    s = sp.compute(y)
    env = sp.onset_envelope(s)
    shape = cat.envelope_shape(s)
    chroma_vector = key.peak_chroma(s)
    tonalness = key.tonalness(chroma_vector)
    pitched, held = sp.peak_tonality(s)

    acid = d.acid
    loop_name = tags.loop_hint(path) if use_names else None
    probe = rhythm.pulse(env)
    kind = decide.kind(loop_name, acid, d.duration, probe.onsets, probe.periodicity, shape["active_fraction"],
                       shape["sustain_db"], rhythm.wrap(probe, s.log_mel, s.frame_db, d.duration))
    if use_names and kind.value == "loop" and kind.source == "audio" and (
            tags.names_a_drum(path) or tags.names_a_pad(path)):
        # "SN3_04" ringing out is a snare, and a drone or a string pad that moves is still one
        # sound: neither is a loop unless its name says so (then kind.source is "name")
        kind = decide.Choice("one-shot", 0.7, "name")
    is_loop = kind.value == "loop"
    rh = rhythm.tempo(probe, d.duration, s.log_mel, s.mel, s.power) if is_loop else probe.without_tempo()
    bpm = decide.tempo(is_loop, acid, tags.bpm_from_name(path) if use_names else None, rh, d.duration)

    feats = features.describe(s, d.peak, d.rms, probe.onsets, d.duration)

    named = tags.category_from_name(path, is_loop) if use_names else None
    hit = int(np.argmax(s.frame_db > -30.0)) * sp.HOP  # the sample a one-shot's notes are read after
    notes = _NOT_LOOKED  # a one-shot's chord or note (or None), looked for at most once
    between = None  # the audio's odds between the two meanings of an ambiguous name ("CB", "HH2")
    x = None  # the category model's descriptors: a one-shot's, which the embedding reuses
    drumlike = False  # the model hears more drum than instrument (decide.rings_like_a_drum)
    if is_loop:
        heard = decide.Choice(*cat.loop_category(feats, tonalness), "audio")
    else:
        x = cat.vector(s, d.duration, feats, shape, tonalness)
        odds = cat.probabilities(x)
        heard = decide.Choice(*cat.most_likely(odds), "audio")
        drumlike = decide.rings_like_a_drum(odds)
        if held >= decide.STEADY_HELD:
            onset_power = s.power[s.active()][: int(sp.FPS)].mean(axis=0)
            notes = chord.one_shot(s.y, hit)
            steady = decide.steady_tone(heard, held, shape["sustain_db"], key.fundamental_hz(onset_power, sp.filters()[3]),
                                        single_note=notes is not None and notes[1] is None)
            drumlike = drumlike and steady is heard  # a steady tone is a note, whatever the model's odds
            heard = steady
        pair = tags.ambiguous_name(path) if use_names else None
        between = {c: odds.get(c, 0.0) for c in pair} if pair else None
    category = decide.category(decide.Choice(*named) if named else None, heard, between)
    silent = d.peak < SILENT_PEAK
    if silent:  # digital silence or dither: nothing to hear, so no category (the model would guess one)
        category = decide.NONE

    key_choice = decide.NONE
    tonal_fraction = float(s.tonal.sum() / max(float(s.energy.sum()), 1e-20))
    if not silent and decide.wants_key(category.value, tonalness, tonal_fraction, pitched,
                                                drum_heard=drumlike and category.source == "audio"):
        named_key = tags.key_from_name(path) if use_names else None
        if named_key:
            key_choice = decide.Choice(named_key[0], named_key[1], named_key[2])
        elif is_loop:
            pc, scale, _, confidence = key.loop_key(s, chroma_vector)
            key_choice = decide.Choice((pc, scale), confidence, "audio")
        else:
            found = chord.one_shot(s.y, hit) if notes is _NOT_LOOKED else notes
            if found:
                key_choice = decide.Choice(found[:2], found[2], "audio")
    key_value = key_choice.value
    return {
        "kind": kind.value, "kind_confidence": kind.confidence, "kind_source": kind.source,
        "bpm": bpm.value, "bpm_confidence": bpm.confidence, "bpm_source": bpm.source,
        "bpm_alt": rh.bpm_alt if bpm.value is not None and bpm.value == rh.bpm else None,
        "bars": rhythm.bars_for(bpm.value, d.duration) if bpm.value else None,
        "key": tags.NOTE_NAMES[key_value[0]] if key_value else None,
        "scale": key_value[1] if key_value else None,
        "key_confidence": key_choice.confidence, "key_source": key_choice.source,
        "category": category.value, "category_confidence": category.confidence, "category_source": category.source,
        "clipped_samples": d.clipped,
        "tonalness": round(tonalness, 4),
        **feats,
        "embedding": embedding.pack(embedding.compute(s, d.duration, feats, shape, tonalness, chroma_vector, x)),
    }


def warm_up() -> None:
    """Build filter banks and load the category model, so the first file pays nothing."""
    sp.filters()
    cat.model()
    from sklearn.decomposition import NMF  # noqa: F401  (loops split into sounds: import it now, not on the first loop)
    y = (np.sin(np.linspace(0, 2000, 44100)) * 0.5).astype(np.float32)
    s = sp.compute(sp.to_analysis_rate(y, 44100))
    features.describe(s, 0.5, 0.3, 1, 1.0)
