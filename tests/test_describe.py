"""What analysis promises: names parsed and preferred, the duration rule, no BPM for one-shots,
keys for tonal material only, clear categories, metadata, determinism. Fixtures from code."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest

from fixtures import music
from sp404d.analysis import tags
from sp404d.analysis.worker import ANALYSIS_VERSION, analyse


@pytest.fixture(scope="module")
def loops(tmp_path_factory):
    root = tmp_path_factory.mktemp("loops")
    out = {}
    for name, truth in {
        "drums": music.LoopTruth(bpm=96.0, bars=2, swing=0.0, style="drums", key=0, scale="minor", seed=1),
        "full": music.LoopTruth(bpm=122.0, bars=4, swing=0.0, style="full", key=9, scale="minor", seed=2),
        "chords": music.LoopTruth(bpm=88.0, bars=2, swing=0.0, style="chords", key=7, scale="major", seed=3),
    }.items():
        out[name] = (truth, music.write(root / f"clip_{name}.wav", music.render_loop(truth)))
    return out


def test_a_loop_cut_to_whole_bars_gets_its_exact_tempo_from_the_duration(loops):
    truth, path = loops["chords"]
    r = analyse(str(path), use_names=False)
    assert r["kind"] == "loop"
    assert r["bpm_source"] == "duration" and r["bpm"] == pytest.approx(truth.bpm, abs=0.05)
    assert r["bars"] == truth.bars


def test_tonal_loops_get_their_key_and_drum_loops_none(loops, tmp_path):
    """Six tonal loops across keys and both scales: the key is exact on at least five (the
    benchmark measures 96 %; relative major/minor is the usual miss)."""
    right = 0
    truths = [t for t in music.loop_set(12, seed=42) if t.tonal][:6]
    for i, truth in enumerate(truths):
        r = analyse(str(music.write(tmp_path / f"t{i}.wav", music.render_loop(truth))), use_names=False)
        assert r["key_source"] == "audio" and r["scale"] in ("major", "minor")
        right += (r["key"], r["scale"]) == (music.NOTE_NAMES[truth.key], truth.scale)
    assert right >= 5
    r = analyse(str(loops["drums"][1]), use_names=False)
    assert r["key"] is None and r["category"] == "drum-loop"


def test_name_tags_are_parsed_and_preferred(loops, tmp_path):
    _, path = loops["chords"]
    named = tmp_path / "Loops" / "Keys_Loop_Dm_110bpm.wav"
    named.parent.mkdir()
    named.write_bytes(path.read_bytes())
    r = analyse(str(named))
    assert (r["bpm"], r["bpm_source"]) == (110.0, "name")
    assert (r["key"], r["scale"], r["key_source"]) == ("D", "minor", "name")
    assert r["kind"] == "loop" and r["kind_source"] == "name"
    assert r["category"] == "melodic-loop" and r["category_source"] == "name"


def test_a_moving_pad_or_drone_is_one_sound_unless_its_name_says_loop(loops, tmp_path):
    _, path = loops["chords"]  # the audio alone calls this a loop (see the duration-rule test)
    for name, kind, category in (("Pads/warm_drone.wav", "one-shot", "pad"),
                                 ("stringsnpads/bell_choir02.wav", "one-shot", "pad"),
                                 ("Pads/Pad_Loop_88bpm.wav", "loop", "melodic-loop")):
        named = tmp_path / name
        named.parent.mkdir(exist_ok=True)
        named.write_bytes(path.read_bytes())
        r = analyse(str(named))
        assert (r["kind"], r["category"]) == (kind, category), name
        assert (r["bpm"] is None) == (kind == "one-shot")


@pytest.mark.parametrize("path,expected", [
    ("Kicks/BD_01.wav", ("kick", "name")), ("pack/Snares/crack.wav", ("snare", "folder")),
    ("SnareRimshot.wav", ("snare", "name")), ("SnareRimClick.wav", ("rim", "name")), ("x/hh_open_2.wav", ("hat-open", "name")),
    ("808 Sub C.wav", ("808", "name")), ("FX/noise-tom0.wav", ("tom", "name")),
    ("Basses/synth_acid01.wav", ("bass", "folder")), ("Clap 3.aif", ("clap", "name")),
    ("drums/nasty_bass01.ogg", ("kick", "name")), ("Drum Kit/Bass 1.wav", ("kick", "name")),
    ("drums/sub bass.wav", ("bass", "name")), ("Basses/bass_01.wav", ("bass", "name")),
    # beside another instrument, "808" names the drum machine (Hydrogen's TR808EmulationKit)
    ("TR808EmulationKit/808_Cowbell.flac", ("perc", "name")), ("808_Conga.flac", ("perc", "name")),
    ("808_Kick_Short.flac", ("kick", "name")), ("808 bass.wav", ("808", "name")),
])
def test_categories_of_clear_names(path, expected):
    found = tags.category_from_name("/samples/" + path, is_loop=False)
    assert (found[0], found[2]) == expected


@pytest.mark.parametrize("name,bpm", [("Funk_90bpm.wav", 90.0), ("Groove 92 BPM.wav", 92.0), ("loop_120_Am.wav", 120.0),
                                      ("bpm128 house.wav", 128.0), ("TR808_loop.wav", None), ("Kick 100.wav", None),
                                      ("Loop 02.wav", None), ("909 groove 4.wav", None)])
def test_bpm_in_names_beware_drum_machines_and_indexes(name, bpm):
    found = tags.bpm_from_name("/x/" + name)
    assert (found[0] if found else None) == bpm


@pytest.mark.parametrize("name,key", [("Loop_Am_90.wav", (9, "minor")), ("F#min chords.wav", (6, "minor")),
                                      ("C major pad.wav", (0, "major")), ("Bb_bass.wav", (10, "major")),
                                      ("Kick A.wav", None), ("Empire.wav", None), ("Ambient.wav", None)])
def test_keys_in_names(name, key):
    found = tags.key_from_name("/x/" + name)
    assert (found[0] if found else None) == key


def test_one_shots_never_get_a_bpm_and_drums_no_key(tmp_path):
    for role, y in music.synth_hits(5).items():
        r = analyse(str(music.write(tmp_path / f"hit_{role}.wav", y)), use_names=False)
        assert r["kind"] == "one-shot" and r["bpm"] is None and r["bpm_source"] is None
        assert r["key"] is None


def test_silence_gets_no_category_key_or_bpm(tmp_path):
    for name, y in (("silence", np.zeros(music.SR)), ("dither", np.random.default_rng(1).normal(0, 1e-5, music.SR))):
        r = analyse(str(music.write(tmp_path / "a" / "b" / f"{name}.wav", y)))
        assert r["ok"] and (r["category"], r["category_source"], r["key"], r["bpm"]) == (None, None, None, None), name


def test_a_kick_with_no_helpful_name_is_still_a_kick(tmp_path):
    kick = music.synth_hits(0)["kick"][: int(0.4 * music.SR)]
    r = analyse(str(music.write(tmp_path / "a" / "b" / "c" / "hit_0042.wav", kick)))  # folders say nothing
    assert (r["category"], r["category_source"]) == ("kick", "audio")


def test_band_decays_tell_a_kick_a_closed_hat_and_an_open_hat_apart():
    from sp404d.analysis import category
    from sp404d.analysis import spectra as sp

    hits = music.synth_hits(3)
    shape = {role: category.envelope_shape(sp.compute(sp.to_analysis_rate(y.astype(np.float32), music.SR)))
             for role, y in hits.items()}
    lows, highs = 0, len(category.BANDS_HZ) - 1
    # a kick's body is below 120 Hz, rings there and has no highs to speak of
    assert shape["kick"]["body_low_peak_hz"] < 120 and shape["kick"]["body_centroid_hz"] < 300
    assert shape["kick"]["band_decay_s"][lows] > 0.25
    # the same noise, damped at once or let ring: the open hat's highs last several times longer
    assert shape["ohat"]["band_decay_s"][highs] > 3 * shape["hat"]["band_decay_s"][highs]
    assert shape["hat"]["hit_centroid_hz"] > 4000 and shape["hat"]["body_centroid_hz"] > 4000
    # a snare's wires are noise: flat across 1.5-5 kHz, where a kick has nothing but its sine's tail
    assert shape["snare"]["hit_mid_flatness"] > 0.5 > shape["kick"]["hit_mid_flatness"]


def test_the_fine_envelope_and_the_body_spectrum_measure_what_they_say():
    """The hit's shape at 2.9 ms steps and the body's spectrum, which the category model reads."""
    from sp404d.analysis import category
    from sp404d.analysis import spectra as sp

    rng = np.random.default_rng(5)
    n = int(0.4 * sp.SR)
    t = np.arange(n) / sp.SR
    noise = rng.normal(0, 0.3, n).astype(np.float32)
    snap = noise * np.exp(-t / 0.004)                      # a closed hat's snap: gone in ~10 ms
    ring = noise * np.exp(-t / 0.15)                       # the same noise left to ring
    bursts = np.zeros(n, np.float32)                       # a clap: three bursts 12 ms apart, then a tail
    for start in (0.0, 0.012, 0.024):
        bursts += noise * np.exp(-np.maximum(t - start, 0) / 0.003) * (t >= start)
    bell = (0.5 * np.sin(2 * np.pi * 800 * t) * np.exp(-t / 0.2)).astype(np.float32)  # one ringing pitch

    def fine(y):
        rise, fall6, fall12, fall24, fall40, centre, crest = category.fine_envelope(y.astype(np.float32))
        return {"rise": rise, "fall24": fall24, "centre": centre}

    def body(y):
        s = sp.compute(y.astype(np.float32))
        values = category.body_spectrum(s, int(np.argmax(s.energy)))
        octaves = dict(zip(zip(category.OCTAVE_EDGES_HZ, category.OCTAVE_EDGES_HZ[1:]), values[:9]))
        return {"octaves": octaves, "peakedness": values[9], "strongest_hz": np.exp(values[14]) - 10}

    # falls 24 dB within a few ms, where the ringing one takes ten times longer
    assert np.exp(fine(snap)["fall24"]) < 0.03 and fine(ring)["fall24"] > fine(snap)["fall24"] + np.log(10)
    # the clap's energy sits later than a single snap's: its bursts keep coming for 24 ms
    assert fine(bursts)["centre"] > fine(snap)["centre"] + np.log(2)
    # a ringing pitch is one tall peak over the floor; noise is not; and it is found where it is
    assert body(bell)["peakedness"] > body(ring)["peakedness"] + 5
    assert abs(body(bell)["strongest_hz"] - 800) < 15
    assert max(body(bell)["octaves"], key=body(bell)["octaves"].get) == (500, 1000)


@pytest.mark.parametrize("kind,expected", [("chord", ("E", "minor")), ("bass", ("E", None)), ("pluck", ("E", None))])
def test_tonal_one_shots_get_a_key(tmp_path, kind, expected):
    y = music.render_tonal_oneshot(4, "minor", kind)
    r = analyse(str(music.write(tmp_path / f"tone_{kind}.wav", y)), use_names=False)
    assert (r["key"], r["scale"]) == expected


def add_acid_chunk(path: Path, tempo: float, one_shot: bool = False, beats: int = 8) -> None:
    """Append an ACID chunk after the data chunk and fix the RIFF size."""
    data = bytearray(path.read_bytes())
    chunk = b"acid" + struct.pack("<I", 24) + struct.pack("<IHHfIHHf", 0x01 if one_shot else 0x00, 60, 0x8000, 0.0,
                                                         beats, 4, 4, tempo)
    data += chunk
    data[4:8] = struct.pack("<I", len(data) - 8)
    path.write_bytes(bytes(data))


def test_acid_metadata_wins(loops, tmp_path):
    _, path = loops["drums"]
    tagged = tmp_path / "clip.wav"
    tagged.write_bytes(path.read_bytes())
    add_acid_chunk(tagged, 97.5)
    r = analyse(str(tagged))
    assert (r["kind_source"], r["bpm"], r["bpm_source"]) == ("metadata", 97.5, "metadata")


def test_an_acid_loop_claim_that_does_not_fit_the_file_is_ignored(tmp_path):
    tom = music.tone(110.0, 0.39, 0.08, harmonics=3)
    tagged = music.write(tmp_path / "a" / "b" / "hit_0105.wav", tom / np.abs(tom).max() * 0.8)  # folders say nothing
    add_acid_chunk(tagged, 0.0, beats=4)  # 4 beats in 0.39 s: 615 BPM
    r = analyse(str(tagged))
    assert (r["kind"], r["bpm"]) == ("one-shot", None)


def test_features_are_complete_and_results_deterministic(loops):
    path = str(loops["full"][1])
    a, b = analyse(path), analyse(path)
    a.pop("seconds"), b.pop("seconds")
    assert a == b
    for field in ("peak_dbfs", "rms_dbfs", "loudness_lufs", "onset_rate", "centroid_hz", "rolloff_hz", "bandwidth_hz",
                  "flatness", "zcr", "hp_ratio", "kind_confidence", "bpm_confidence", "key_confidence",
                  "category_confidence"):
        assert isinstance(a[field], float), field
    assert len(a["mfcc_mean"]) == 13 and len(a["mfcc_std"]) == 13
    assert a["analysis_version"] == ANALYSIS_VERSION
    assert -1.5 < a["peak_dbfs"] < 0 and a["rms_dbfs"] < a["peak_dbfs"] and -40 < a["loudness_lufs"] < 0


def test_loudness_of_a_reference_tone(tmp_path):
    """A 1 kHz sine at -20 dBFS peak (mono) measures -23.0 LUFS by BS.1770 (K-weighting is ~0 dB at 1 kHz)."""
    t = np.arange(3 * music.SR) / music.SR
    y = 0.1 * np.sin(2 * np.pi * 1000 * t)
    r = analyse(str(music.write(tmp_path / "tone.wav", y / 0.89 * 0.89)))
    assert r["loudness_lufs"] == pytest.approx(-23.0, abs=0.3)
    assert r["peak_dbfs"] == pytest.approx(-20.0, abs=0.1)


def test_an_ambiguous_name_is_settled_by_the_sound_between_its_two_meanings():
    from sp404d.analysis import decide

    assert tags.ambiguous_name("/kits/BJA/CB2_01.aiff") == ("perc", "cymbal")
    assert tags.ambiguous_name("/kits/Cowbells/CB_01.wav") is None      # the folder settles it
    assert tags.ambiguous_name("/kits/x/Cowbell_01.wav") is None       # not an abbreviation
    # a hi-hat that says neither open nor closed
    assert tags.ambiguous_name("/kits/BJA/HH2_01.aiff") == ("hat-closed", "hat-open")
    assert tags.ambiguous_name("/kits/x/Hat 3.wav") == ("hat-closed", "hat-open")
    assert tags.ambiguous_name("/kits/x/hihat-semi-open-2.flac") == ("hat-closed", "hat-open")
    assert tags.ambiguous_name("/kits/x/HiHatSemiopen-0.wav") == ("hat-closed", "hat-open")
    for clear in ("HH_open_2.wav", "OHH 1.wav", "VP Hat 1 Cl.wav", "VP Hat 1 Pd.wav", "CHH_1.wav", "hihat-closed-1.flac",
                  "Open Hats/HH_01.wav", "hhpedal_01.flac"):
        assert tags.ambiguous_name("/kits/x/" + clear) is None, clear
    named = decide.Choice("perc", 0.75, "name")
    crash_heard = decide.Choice("cymbal", 0.6, "audio")
    # the audio, though unsure overall, is far surer of a crash than of a cowbell
    got = decide.category(named, crash_heard, {"perc": 0.02, "cymbal": 0.6})
    assert (got.value, got.source) == ("cymbal", "audio") and got.confidence <= 0.75
    got = decide.category(named, decide.Choice("tom", 0.5, "audio"), {"perc": 0.3, "cymbal": 0.1})
    assert (got.value, got.source) == ("perc", "name")
    assert decide.category(named, crash_heard).value == "perc"                # no pair: the name stands
    # a near tie keeps the name's usual meaning: "HH_08" is a closed hat unless the sound is clearly open
    hh = decide.Choice("hat-closed", 0.75, "name")
    assert decide.category(hh, decide.Choice("hat-open", 0.5, "audio"), {"hat-closed": 0.31, "hat-open": 0.51}
                           ).value == "hat-closed"
    assert decide.category(hh, decide.Choice("hat-open", 0.7, "audio"), {"hat-closed": 0.16, "hat-open": 0.72}
                           ).value == "hat-open"


# -- issue 16: music it has never heard --

@pytest.mark.parametrize("groove,bpm,bars", [("backbeat", 100.0, 2), ("four-on-the-floor", 128.0, 2),
                                             ("half-time", 140.0, 2)])
def test_the_tempo_octave_of_backbeat_four_on_the_floor_and_half_time_loops(tmp_path, groove, bpm, bars):
    """The bar count (so T, 2T or T/2) comes from where kick, snare and hats fall: a backbeat's
    snare on 2 and 4, a four-on-the-floor kick on every beat with off-beat hats, a half-time
    snare on 3 under sixteenth hats is still the written tempo, not half of it."""
    r = analyse(str(music.write(tmp_path / f"{groove}.wav", music.render_groove(bpm, bars, groove))), use_names=False)
    assert (r["kind"], r["bpm_source"], r["bars"]) == ("loop", "duration", bars)
    assert r["bpm"] == pytest.approx(bpm, abs=0.05)
    assert r["bpm_alt"] is None or abs(r["bpm_alt"] / bpm - 1) > 0.4  # an alternative is another octave


@pytest.mark.parametrize("root,scale,down", [("C", "major", True), ("A", "minor", False), ("D", "minor", True)])
def test_a_strummed_chord_gets_its_root_and_quality(tmp_path, root, scale, down):
    """Six (or five, four) strings 20 ms apart, open strings ringing: the notes are read after the
    strum has landed, so the staggered onsets and the octave doublings do not hide the chord."""
    y = music.render_strum(root, scale, down)
    r = analyse(str(music.write(tmp_path / f"strum_{root}{scale}.wav", y)), use_names=False)
    assert (r["kind"], r["key"], r["scale"], r["key_source"]) == ("one-shot", root, scale, "audio")


def test_no_key_on_a_drum_loop_or_on_noise(loops, tmp_path):
    """No key where there is no key: decided on the sound's pitch before any key profile is matched."""
    r = analyse(str(loops["drums"][1]), use_names=False)
    assert r["key"] is None
    rng = np.random.default_rng(3)
    for name, y in (("white", rng.normal(0, 0.3, 2 * music.SR)),
                    ("burst", rng.normal(0, 0.3, music.SR) * np.exp(-np.arange(music.SR) / (0.2 * music.SR)))):
        r = analyse(str(music.write(tmp_path / f"noise_{name}.wav", np.clip(y, -1, 1))), use_names=False)
        assert (r["key"], r["scale"]) == (None, None), name


@pytest.mark.parametrize("name,category", [
    ("CC_01", "cymbal"), ("crash 2", "cymbal"), ("RC bell", "cymbal"), ("ride_03", "cymbal"),
    ("FT1", "tom"), ("HT_02", "tom"), ("MT", "tom"), ("LT 3", "tom"), ("OH_01", "hat-open"), ("CH1", "hat-closed"),
    ("HH", "hat-closed"), ("BD", "kick"), ("KD_3", "kick"), ("SD2", "snare"), ("RS", "rim"), ("XS_01", "rim"),
    ("Djembe1 Bass", "perc"),
])
def test_drum_kit_abbreviations(name, category):
    assert tags.category_from_name(f"/kit/{name}.wav", is_loop=False)[0] == category


@pytest.mark.parametrize("freq,wave,expected", [(440.0, "sine", "keys/melodic"), (261.63, "sine", "keys/melodic"),
                                                (55.0, "sine", "bass"), (220.0, "saw", "keys/melodic")])
def test_a_steady_wave_is_a_note_never_a_drum(tmp_path, freq, wave, expected):
    t = np.arange(music.SR) / music.SR
    y = np.sin(2 * np.pi * freq * t) if wave == "sine" else 2 * ((freq * t) % 1.0) - 1
    y = 0.5 * y * np.minimum(1, np.minimum(np.arange(y.size), y.size - np.arange(y.size)) / 400)
    r = analyse(str(music.write(tmp_path / f"{wave}{freq:g}.wav", y)), use_names=False)
    assert r["kind"] == "one-shot" and r["category"] == expected
    assert r["key"] == music.NOTE_NAMES[(round(12 * np.log2(freq / 440.0)) + 9) % 12] and r["scale"] is None


def test_a_drum_ringing_at_a_pitch_gets_no_key_even_when_bass_is_the_likeliest_single_class():
    """A djembe's bass tone: "bass" 0.2 by a hair, the drum classes together 0.6. The key gate
    decides before any pitch is read; a name that says bass, or a steady tone, still gets one."""
    from sp404d.analysis import decide

    djembe = {"bass": 0.2, "tom": 0.2, "kick": 0.15, "perc": 0.15, "fx": 0.1, "keys/melodic": 0.05, "snare": 0.1,
              "pad": 0.05}
    assert decide.rings_like_a_drum(djembe)
    assert not decide.rings_like_a_drum({"bass": 0.52, "kick": 0.2, "fx": 0.2, "tom": 0.08})
    assert not decide.wants_key("bass", 0.05, 0.4, pitched=0.4, drum_heard=True)
    assert decide.wants_key("bass", 0.05, 0.4, pitched=0.4, drum_heard=False)
