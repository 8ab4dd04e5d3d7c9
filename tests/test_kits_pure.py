"""Pure decisions of kits and the card: query parsing, card names, pad selection, the sync plan,
card detection. No threads, no disks."""

from __future__ import annotations

import pytest

from sp404d.card import detect, naming
from sp404d.card.plan import Want, plan
from sp404d.kits import query as q
from sp404d.kits import score
from sp404d.kits.select import Slot, choose, rank


def test_query_fields_ranges_negation_and_sort():
    parsed = q.parse("kick category:hat,snare kind:loop bpm:85..95 dur:<1.5 -path:vinyl key:~Am sort:-added sort:bpm",
                     now=1000.0)
    by = {c.field: c for c in parsed.clauses}
    assert by["word"].value == "kick"
    assert by["category"].value == {"hat-closed", "hat-open", "snare"}
    assert by["kind"].value == "loop" and by["bpm"].value == (85, 95)
    assert by["dur"].value[1] < 1.5 and by["path"].negate
    assert by["key"].value == {(9, "minor"), (0, "major"), (4, "minor"), (2, "minor")}  # Am, C, Em, Dm
    assert parsed.sort == (("created_at", True), ("bpm", False))
    assert q.parse("bpm:90").clauses[0].value == (89.5, 90.5)
    assert q.parse("dur:>=500ms").clauses[0].value[0] == pytest.approx(0.5)
    assert q.parse("added:-7d", now=1000.0 + 7 * 86400).clauses[0].value[0] == pytest.approx(1000.0)
    assert q.parse("key:A scale:minor").clauses[0].value == {(9, None)}
    assert q.parse("key:F#min").clauses[0].value == {(6, "minor")}
    # a range as people write it: with a hyphen or an en dash
    assert q.parse("bpm:80-100").clauses[0].value == q.parse("bpm:80–100").clauses[0].value == (80, 100)
    assert q.parse("dur:200ms-1s").clauses[0].value == pytest.approx((0.2, 1.0))


@pytest.mark.parametrize("text, token", [("category:kik", "category:kik"), ("bpm:9x..100", "bpm:9x..100"),
                                         ("colour:red", "colour:red"), ("key:H", "key:H"), ("sort:colour", "sort:colour"),
                                         ("bpm:100..90", "bpm:100..90"), ("bpm:100-90", "bpm:100-90"), ("kind:", "kind:"), ('name:"open', "open")])
def test_query_errors_name_the_token(text, token):
    with pytest.raises(q.QueryError) as e:
        q.parse(text)
    assert token in str(e.value)


def test_card_names_are_ascii_short_unique_and_safe():
    names = naming.pad_file_names({1: "Kick Café Ünïcode 808 long name", 2: "Kick Café Ünïcode 808 long name",
                                   3: "CON", 4: "a/b:c*d?", 5: "日本語", 6: "Straße Kick"})
    assert all(len(n) <= 23 and n.isascii() and n.endswith(".WAV") for n in names.values())
    assert names[1] == "01_Kick_808_name.WAV"  # the instrument, "808" and the last word outlast the rest
    assert names[2] != names[1] and names[2][3:].upper() != names[1][3:].upper()
    assert names[3] == "03_CON_.WAV" and names[5] == "05_RiBenYu.WAV" and names[6] == "06_Strasse_Kick.WAV"
    assert not any(ch in names[4] for ch in '/:*?')
    assert naming.kit_folder("Lo-Fi Drums ünd more, very long indeed") == "LO-FI_DRUMS_UND_MORE,_V"
    assert naming.kit_folder("nul") == "NUL_" and naming.kit_folder("Straße") == "STRASSE"
    for bad in ("../x", "a/b", "..", "", "  "):
        with pytest.raises(naming.BadName):
            naming.kit_folder(bad)


def test_card_names_keep_what_a_person_recognises_in_real_names():
    """Names from the dev corpus (Hydrogen's Colombo, Audiophob, Gimme A Hand, ElectricEmpire kits)."""
    def names(*stems):
        return [n[3:-4] for n in naming.pad_file_names(dict(enumerate(stems, start=1))).values()]
    # two layers of one kick, as the old names had them: "bassdrum-4mics-b" and "bassdrum-4mics~2"
    assert names("bassdrum-4mics-br-stereo-soft4", "bassdrum-4mics-br-stereo-normal3") == ["soft4", "normal3"]
    assert names("bassdrum-4mics-br-stereo-soft4", "EE_Kick_Stomp") == ["bassdrum-soft4", "EE_Kick_Stomp"]
    # freesound's id and user name go; the sound's own name stays, with its telling words
    assert names("25671__walter-odington__garage-city-snare-snappy", "124382__cubix__8bit-snare",
                 "104227__minorr__hhat-paiste-302-14-open-p", "86335__zgump__tom-0105",
                 "124101__connersaw8__crash") == ["snare-snappy", "8bit-snare", "hhat-open-p", "tom-0105", "crash"]
    # a prefix every pad of the kit shares says nothing on the device
    assert names("EE_Kick_Stomp", "EE_Snare_Ring", "EE_Clap_Hard") == ["Kick_Stomp", "Snare_Ring", "Clap_Hard"]
    # too long with nothing to drop: letters go from the longest word; a velocity word that does not fit
    # becomes its dynamic mark, as cut to "Soft" it would name another layer
    assert names("CajonThumps-Softest", "hihat-semi-open-1", "VP Hat 1 Pd") == [
        "CajonThumps-pp", "hiha-semi-open-1", "VP_Hat_1_Pd"]
    # a velocity word is never cut ("Softes", or "Soft": another layer, in the same kit here); freesound's
    # bare number keeps its user's name
    assert names("HatSemiOpen-Softest", "HatSemiOpen-Soft", "HatSemiOpen-Hardest", "SideStick-Softest",
                 "SnareRimshot-Softest", "29800__stomachache__3") == [
        "HatSemiOpen-pp", "HatSemiOpen-Soft", "HatSemiOpen-ff", "SideStick-pp", "SnareRimshot-pp", "stomachache_3"]
    # names that would read the same keep the words that differ
    assert names("steel_guitar_heavy_distorted01", "steel_guitar_slight_distorted01", "kick01") == [
        "guit_heav_dist01", "guit_slig_dist01", "kick01"]


def row(sample_id, group=None, canonical=True, clipped=0, peak=-3.0, confidence=0.9, created=100.0, path=None,
        category=None, duration=0.3, loudness=-14.0, kind="one-shot", drop=0, source="name"):
    return {"sample_id": sample_id, "group_id": group or sample_id, "canonical": canonical, "clipped_samples": clipped,
            "peak_dbfs": peak, "category_confidence": confidence, "created_at": created,
            "path": path or f"/s/{sample_id}.wav", "category": category, "duration": duration,
            "loudness_lufs": loudness, "samplerate": 44100, "channels": 1, "kind": kind, "pcm_hash": f"{sample_id:04d}",
            "drop": drop, "category_source": source}


def test_search_order_is_canonical_unclipped_audible_confident_then_newest():
    rows = [row(1, created=300), row(2, canonical=False, created=900), row(3, clipped=5, created=900),
            row(4, peak=-80, created=900), row(5, confidence=0.5, created=900), row(6, created=200)]
    assert [r["sample_id"] for r in sorted(rows, key=rank)] == [1, 6, 5, 4, 3, 2]


def fits(path, category, duration=0.3, **kw):
    return score.fit(row(1, path=path, category=category, duration=duration, **kw))


def test_a_sound_fits_a_pad_when_its_name_and_length_agree_with_its_role():
    # real names from the dev corpus, with the category and length the analysis gave them
    assert fits("/c/lmms/drums/nasty_bass01.ogg", "kick", 0.16).note == "its name says bass"
    assert fits("/c/lmms/shapes/vowel_a.wav", "vocal", 0.01).note == "too short for vocal (0.01 s)"
    assert fits("/c/lmms/misc/raving_crowd01.ogg", "vocal", 10.03).note == "too long for vocal (10.03 s)"
    assert fits("/c/lmms/drums/kick_soft01.ogg", "kick", 3.0).score is None
    assert fits("/c/HardElectro1/emptySample.flac", None, 0.04, peak=-120.0).note == "silent"
    # names with two meanings agree with either: "CB" (cowbell or crash), a hat that says neither
    assert fits("/c/BJA_Pacific/CB_01.aiff", "cymbal", 1.5).score
    assert fits("/c/HardElectro1/PowR_HH_2.flac", "hat-open").score
    assert fits("/c/x/hhat-paiste-302-14-open-p.wav", "hat-closed").score is None
    named = fits("/c/ElectricEmpireKit/EE_Kick_Stomp.flac", "kick").score
    abbreviated = fits("/c/BJA_Pacific/BD_04.aiff", "kick").score
    by_folder = fits("/c/Kicks/hit_04.wav", "kick").score
    heard = fits("/c/rumpf_kit_z01_h2/beats_08-20.flac", "kick").score
    assert named > abbreviated > by_folder > heard
    assert fits("/c/k/kick_a.wav", "kick", 0.3).score > fits("/c/k/kick_b.wav", "kick", 1.4).score  # long for a kick
    assert fits("/c/k/kick_a.wav", "kick").score > fits("/c/k/kick_c.wav", "kick", clipped=777).score
    assert fits("/c/k/kick_a.wav", "kick").score > fits("/c/k/kick_d.wav", "kick", loudness=-42.0, peak=-23.0).score
    # a loop has no one-shot length, and its category is a family that instrument words do not contradict
    loop = fits("/c/lmms/bassloops/rave_bass01.ogg", "melodic-loop", 8.0, kind="loop", source="folder")
    assert loop.score and loop.note == "folder says melodic-loop"


def test_layers_of_one_drum_share_an_identity_and_different_drums_do_not():
    same = [("/k/bassdrum-4mics-br-stereo-soft4.flac", "/k/bassdrum-4mics-br-stereo-normal3.flac"),
            ("/k/BongoHi-Hard.wav", "/k/BongoHi-Softest.wav"), ("/k/Kick-0.wav", "/k/Kick-4.wav"),
            ("/k/BD_01.aiff", "/k/BD_08.aiff"), ("/k/EE_Kick_Hard_1.flac", "/k/EE_Kick_Hard_2.flac"),
            ("/k/snare_v1.wav", "/k/snare_v8.wav"), ("/k/Tom rr1.wav", "/k/Tom rr2.wav")]
    different = [("/k/kick01.ogg", "/k/kick02.ogg"), ("/k/BongoHi-Hard.wav", "/k/BongoLo-Hard.wav"),
                 ("/k/Djembe1 Slap.wav", "/k/Djembe2 Slap.wav"), ("/k/beats_01-20.flac", "/k/beats_01-21.flac"),
                 ("/k/EE_Kick_Hard_1.flac", "/k/EE_Kick_Stomp.flac"), ("/a/BD_01.aiff", "/b/BD_01.aiff")]
    assert all(score.identity(a) == score.identity(b) for a, b in same)
    assert not any(score.identity(a) == score.identity(b) for a, b in different)


def kick(sample_id, name, folder="Kit", drop=0, **kw):
    return row(sample_id, path=f"/lib/{folder}/{name}.wav", category="kick", drop=drop, **kw)


def pads_of(slots, rows, sort=False):
    return [p.row["path"].split("/lib/")[1] if p.row else None
            for p in choose(slots, lambda text: rows, lambda r: r["drop"])][:len(slots)]


KICKS = [Slot(1, "category:kick"), Slot(2, "category:kick")]


def test_a_kit_never_takes_two_layers_of_one_drum_and_spreads_over_folders():
    rows = [kick(1, "bassdrum-soft4", "Colombo"), kick(2, "bassdrum-normal3", "Colombo"),
            kick(3, "EE_Kick_Stomp", "EE", confidence=0.85), kick(4, "EE_Kick_Ring", "EE", confidence=0.85)]
    assert pads_of(KICKS, rows) == ["Colombo/bassdrum-soft4.wav", "EE/EE_Kick_Stomp.wav"]
    # the order the rows come in, or arrived in within a drop, does not matter
    assert pads_of(KICKS, rows[::-1]) == pads_of(KICKS, rows)
    assert pads_of(KICKS, rows[:2]) == ["Colombo/bassdrum-soft4.wav", None]  # one drum: one pad, never a layer
    assert choose(KICKS, lambda text: rows[:2])[1].why == (
        "nothing left fits 'category:kick' (2 on other pads or layers of a drum on one)")


def test_a_new_drop_takes_a_pad_only_with_a_clearly_better_match():
    first = [kick(1, "kick_boom", "A", confidence=0.8), kick(2, "kick_punch", "B", confidence=0.8)]
    slightly = [kick(3, "kick_deep", "C", confidence=0.95, drop=1)]  # better, but not by MARGIN
    assert pads_of(KICKS, first + slightly) == pads_of(KICKS, first) == ["A/kick_boom.wav", "B/kick_punch.wav"]
    assert pads_of(KICKS, [dict(r, drop=0) for r in first + slightly])[0] == "C/kick_deep.wav"  # had they come together
    # a clearly better kick takes the weaker pad, not the first
    audio_only = [row(1, path="/lib/A/hit_01.wav", category="kick"), kick(2, "kick_punch", "B")]
    clearly = [kick(3, "kick_deep", "C", drop=1)]
    assert pads_of(KICKS, audio_only) == ["B/kick_punch.wav", "A/hit_01.wav"]
    assert pads_of(KICKS, audio_only + clearly) == ["B/kick_punch.wav", "C/kick_deep.wav"]
    # a pad whose sound is gone takes the best one left, whenever it came
    assert pads_of(KICKS, audio_only[:1] + clearly) == ["A/hit_01.wav", "C/kick_deep.wav"]
    # the weakest of several pads goes first: 0.99 - 0.67 is clear, 0.99 - 0.91 is not
    three = [Slot(1, "category:kick"), Slot(2, "category:kick"), Slot(3, "category:kick")]
    held = [kick(1, "kick_a", "A"), kick(2, "BD_01", "B"), row(3, path="/lib/C/hit_01.wav", category="kick")]
    assert pads_of(three, held + [kick(4, "kick_b", "D", drop=1), kick(5, "kick_c", "E", drop=1)]) == [
        "A/kick_a.wav", "B/BD_01.wav", "D/kick_b.wav"]


def test_slots_take_distinct_sounds_pins_first_and_empty_stays_empty():
    kicks = [row(1), row(2), row(3, group=1)]  # 3 is the same sound as 1
    results = {"category:kick": kicks, "category:vocal": [], "sort:-added": kicks[::-1]}
    slots = [Slot(1, "category:kick"), Slot(2, "category:kick"), Slot(3, "category:kick"),
             Slot(4, pinned=row(2), pin_text="2"), Slot(5, "category:vocal"), Slot(6, pin_text="/gone.wav"),
             Slot(7, "sort:-added", sorted=True), Slot(8, "sort:-added", sorted=True)]
    pads = choose(slots, lambda text: results[text])
    assert [p.row["sample_id"] if p.row else None for p in pads[:8]] == [1, None, None, 2, None, None, None, None]
    assert "(3 on other pads" in pads[1].why and "not in the library" in pads[5].why
    assert pads[4].why == "nothing left fits 'category:vocal': no match"
    assert "nothing left matches" in pads[6].why  # a sorted slot takes its order as it is: 3 is 1's sound
    assert pads[8].row is None and pads[8].why.startswith("no query or pin") and len(pads) == 16
    assert choose(slots, lambda text: results[text]) == pads  # deterministic
    newest = choose([Slot(1, "sort:-added", sorted=True)], lambda text: [row(5, peak=-50.0), row(4)])
    assert newest[0].row["sample_id"] == 5  # NEW keeps its meaning: the newest, whatever it scores
    silence = choose([Slot(1, "sort:-added", sorted=True)], lambda text: [row(6, peak=-120.0), row(5, peak=-50.0)])
    assert silence[0].row["sample_id"] == 5  # ...but never a silent file (HardElectro1's emptySample)


def want(rel, sample=1, pcm="p1"):
    return Want(rel, sample, pcm, "/src.wav", "K", 1)


def test_plan_writes_keeps_replaces_removes_only_what_it_wrote():
    manifest = {"IMPORT/K/01_a.WAV": {"sample": 1, "pcm": "p1", "size": 10, "hash": "h1"},
                "IMPORT/K/02_b.WAV": {"sample": 2, "pcm": "p2", "size": 10, "hash": "h2"},
                "IMPORT/K/03_c.WAV": {"sample": 3, "pcm": "p3", "size": 10, "hash": "h3"},
                "IMPORT/K/04_d.WAV": {"sample": 4, "pcm": "p4", "size": 10, "hash": "h4"},
                "IMPORT/K/05_e.WAV": {"sample": 5, "pcm": "p5", "size": 12, "hash": "new", "previous_hash": "old",
                                      "pending": True}}
    on_card = {"IMPORT/K/01_a.WAV": (10, "h1"),       # unchanged: keep
               "IMPORT/K/02_b.WAV": (10, "h2"),       # a new sound on pad 2: replace
               "IMPORT/K/03_c.WAV": (10, "h3"),       # no longer in the kit: remove
               "IMPORT/K/04_d.WAV": (11, "user"),     # the user changed it: forget, leave
               "IMPORT/K/05_e.WAV": (9, "old"),       # a write cut short: redo
               "IMPORT/K/06_f.WAV": (5, "hand"),      # the user's file where a pad goes: blocked
               "IMPORT/K/07_g.WAV": None}
    wants = [want("IMPORT/K/01_a.WAV"), want("IMPORT/K/02_b.WAV", 9, "p9"), want("IMPORT/K/05_e.WAV", 5, "p5"),
             want("IMPORT/K/06_f.WAV", 6), want("IMPORT/K/07_g.WAV", 7)]
    p = plan(wants, manifest, on_card)
    assert p.keep == ["IMPORT/K/01_a.WAV"]
    assert [w.rel for w in p.write] == ["IMPORT/K/02_b.WAV", "IMPORT/K/05_e.WAV", "IMPORT/K/07_g.WAV"]
    assert p.remove == ["IMPORT/K/03_c.WAV"] and p.forget == ["IMPORT/K/04_d.WAV"]
    assert p.blocked == ["IMPORT/K/06_f.WAV"]
    done = {k: v for k, v in manifest.items() if k in ("IMPORT/K/01_a.WAV",)}
    assert plan([want("IMPORT/K/01_A.wav")], done, {"IMPORT/K/01_A.wav": (10, "h1")}).write  # case change: rename


def test_a_pad_file_sp404d_wrote_and_the_user_changed_is_reported_as_changed_not_as_never_written():
    from sp404d.card.plan import Plan
    from sp404d.card.sync import Report
    from sp404d.cli_library import format_sync

    manifest = {"IMPORT/K/01_a.WAV": {"sample": 1, "pcm": "p1", "size": 10, "hash": "h1"}}
    on_card = {"IMPORT/K/01_a.WAV": (12, "theirs"),   # sp404d wrote it, the user replaced it
               "IMPORT/K/02_b.WAV": (5, "hand")}      # sp404d never wrote here
    p = plan([want("IMPORT/K/01_a.WAV"), want("IMPORT/K/02_b.WAV", 2, "p2")], manifest, on_card)
    assert (p.blocked, p.changed, p.write) == (["IMPORT/K/01_a.WAV", "IMPORT/K/02_b.WAV"], ["IMPORT/K/01_a.WAV"], [])
    report = Report("/media/you/SD", p, finished_at=1.0).as_dict()
    assert report["changed"] == ["IMPORT/K/01_a.WAV"]
    for dry_run in (False, True):
        lines = format_sync(report, dry_run).splitlines()[1:]
        assert lines == ["  IMPORT/K/01_a.WAV: changed on the card since sp404d wrote it: left alone",
                         "  IMPORT/K/02_b.WAV: left alone (not written by sp404d)"]
    assert format_sync(Report("/c", Plan(blocked=["IMPORT/K/01_a.WAV"])).as_dict(), False).endswith(
        "IMPORT/K/01_a.WAV: left alone (not written by sp404d)")


def test_a_sound_that_changed_pads_is_moved_not_written_again():
    manifest = {"IMPORT/K/01_a.WAV": {"sample": 1, "pcm": "p1", "size": 10, "hash": "h1"},
                "IMPORT/K/02_b.WAV": {"sample": 2, "pcm": "p2", "size": 10, "hash": "h2"},
                "IMPORT/K/03_c.WAV": {"sample": 3, "pcm": "p3", "size": 10, "hash": "h3"}}
    on_card = {"IMPORT/K/01_a.WAV": (10, "h1"), "IMPORT/K/02_b.WAV": (10, "h2"), "IMPORT/K/03_c.WAV": (10, "h3"),
               "IMPORT/K/01_n.WAV": None, "IMPORT/K/02_a.WAV": None, "IMPORT/K/03_b.WAV": None}
    # a newest-first kit after one new sample: every sound moves down a pad, the last one drops off
    wants = [want("IMPORT/K/01_n.WAV", 9, "p9"), want("IMPORT/K/02_a.WAV", 1, "p1"), want("IMPORT/K/03_b.WAV", 2, "p2")]
    p = plan(wants, manifest, on_card)
    assert [w.rel for w in p.write] == ["IMPORT/K/01_n.WAV"]
    assert [(old, w.rel) for old, w in p.move] == [("IMPORT/K/01_a.WAV", "IMPORT/K/02_a.WAV"),
                                                   ("IMPORT/K/02_b.WAV", "IMPORT/K/03_b.WAV")]
    assert p.remove == ["IMPORT/K/03_c.WAV"] and p.changes == 4
    # only a file that is exactly what we wrote moves: not one the user changed, nor one mid-write
    changed = {**on_card, "IMPORT/K/01_a.WAV": (11, "user")}
    assert [old for old, _ in plan(wants, manifest, changed).move] == ["IMPORT/K/02_b.WAV"]
    pending = {**manifest, "IMPORT/K/02_b.WAV": {**manifest["IMPORT/K/02_b.WAV"], "pending": True}}
    assert [old for old, _ in plan(wants, pending, on_card).move] == ["IMPORT/K/01_a.WAV"]
    # pulled mid-move: before the rename the old file moves again; after it, the new one (ours by its
    # hash, still marked pending) is written again and the old path is forgotten
    marked = {**manifest, "IMPORT/K/02_a.WAV": {"sample": 1, "pcm": "p1", "size": 10, "hash": "h1", "pending": True}}
    before = plan(wants[1:2], marked, {**on_card, "IMPORT/K/02_a.WAV": None})
    assert [(old, w.rel) for old, w in before.move] == [("IMPORT/K/01_a.WAV", "IMPORT/K/02_a.WAV")]
    after = plan(wants[1:2], marked, {**on_card, "IMPORT/K/01_a.WAV": None, "IMPORT/K/02_a.WAV": (10, "h1")})
    assert [w.rel for w in after.write] == ["IMPORT/K/02_a.WAV"] and "IMPORT/K/01_a.WAV" in after.forget


def test_a_card_is_known_by_its_top_level_only():
    assert detect.is_sp404_card({"IMPORT", "EXPORT"}) and detect.is_sp404_card({"import", "Bkup"})
    assert detect.is_sp404_card({"SP404MKII_APP_V500.BIN"})
    assert not detect.is_sp404_card({"IMPORT"}) and not detect.is_sp404_card({"EXPORT", "BKUP"})
    assert detect.role("ZOOM", {"DCIM"}, (), ("ZOOM",)) == "ingest"
    assert detect.role("MYCARD", set(), ("MYCARD",), ()) == "card"
    assert detect.role("BACKUP", {"IMPORT", "EXPORT", "x"}, (), ()) == "card"
    assert detect.role("DISK", {"Music"}, (), ()) is None
