"""Pure decisions of kits and the card: query parsing, card names, pad selection, the sync plan,
card detection. No threads, no disks."""

from __future__ import annotations

import pytest

from sp404d.card import detect, naming
from sp404d.card.plan import Want, plan
from sp404d.kits import query as q
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
                                   3: "CON", 4: "a/b:c*d?", 5: "日本語"})
    assert all(len(n) <= 23 and n.isascii() and n.endswith(".WAV") for n in names.values())
    assert names[1] == "01_Kick_Cafe_Unicod.WAV"  # 23 characters
    assert names[2] != names[1] and names[2][3:].upper() != names[1][3:].upper()
    assert names[3] == "03_CON_.WAV" and names[5] == "05_pad.WAV"
    assert not any(ch in names[4] for ch in '/:*?')
    assert naming.kit_folder("Lo-Fi Drums ünd more, very long indeed") == "LO-FI_DRUMS_UND_MORE,_V"
    assert naming.kit_folder("nul") == "NUL_"
    for bad in ("../x", "a/b", "..", "", "日本"):
        with pytest.raises(naming.BadName):
            naming.kit_folder(bad)


def row(sample_id, group=None, canonical=True, clipped=0, peak=-3.0, confidence=0.9, created=100.0):
    return {"sample_id": sample_id, "group_id": group or sample_id, "canonical": canonical, "clipped_samples": clipped,
            "peak_dbfs": peak, "category_confidence": confidence, "created_at": created, "path": f"/s/{sample_id}.wav"}


def test_best_is_canonical_unclipped_audible_confident_then_newest():
    rows = [row(1, created=300), row(2, canonical=False, created=900), row(3, clipped=5, created=900),
            row(4, peak=-80, created=900), row(5, confidence=0.5, created=900), row(6, created=200)]
    assert [r["sample_id"] for r in sorted(rows, key=rank)] == [1, 6, 5, 4, 3, 2]


def test_slots_take_distinct_sounds_pins_first_and_empty_stays_empty():
    kicks = [row(1), row(2), row(3, group=1)]  # 3 is the same sound as 1
    results = {"category:kick": kicks, "category:vocal": []}
    slots = [Slot(1, "category:kick"), Slot(2, "category:kick"), Slot(3, "category:kick"),
             Slot(4, pinned=row(2), pin_text="2"), Slot(5, "category:vocal"), Slot(6, pin_text="/gone.wav")]
    pads = choose(slots, lambda text: results[text])
    assert [p.row["sample_id"] if p.row else None for p in pads[:6]] == [1, None, None, 2, None, None]
    assert "nothing left matches" in pads[1].why and "not in the library" in pads[5].why
    assert pads[6].row is None and pads[6].why == "no slot" and len(pads) == 16
    assert choose(slots, lambda text: results[text]) == pads  # deterministic


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
