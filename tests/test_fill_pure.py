"""kit fill and kit alt decisions (kits/fill.py), without a library: rows and vectors in, choices out."""

from __future__ import annotations

import numpy as np

from sp404d.kits import fill


def row(i: int, category: str, name: str, group: int | None = None, duration: float = 0.3) -> dict:
    return {"sample_id": i, "group_id": group, "path": f"/s/{name}.wav", "category": category, "kind": "one-shot",
            "duration": duration, "peak_dbfs": -3.0, "category_confidence": 0.9, "category_source": "name"}


def euclid(q, m):
    return np.linalg.norm(m - q, axis=1)


# vectors: x = feel (0 = the kit's, 10 = far), y = role (irrelevant to feel here)
KIT = [row(1, "kick", "kick_warm"), row(2, "snare", "snare_warm")]
KIT_V = np.array([[0.0, 0.0], [0.0, 1.0]])


def test_fill_takes_the_missing_roles_first_each_nearest_in_feel():
    cands = [row(10, "kick", "kick_harsh"), row(11, "hat-closed", "hat_harsh"), row(12, "hat-closed", "hat_warm"),
             row(13, "clap", "clap_warm"), row(14, "hat-open", "openhat_warm", duration=0.6),
             row(15, "snare", "snare_other")]
    vecs = np.array([[0.1, 0.0], [10.0, 0.0], [0.5, 0.0], [0.2, 0.0], [0.3, 0.0], [0.1, 0.0]])
    got = fill.plan(KIT, KIT_V, cands, vecs, [3, 4, 5, 6], euclid)
    assert [(c.pad, c.row["sample_id"]) for c in got] == [(3, 12), (4, 14), (5, 13), (6, 10)]
    assert "lacked" in got[0].why and "another" in got[3].why  # the kick is a second kick


def test_fill_never_takes_a_sound_on_the_kit_its_copy_or_another_layer_of_its_drum():
    cands = [row(20, "kick", "kick_warm", group=7),       # the kit's own kick file (its group)...
             row(21, "kick", "kick_warm_02"),              # ...a layer of the kit's kick: same drum
             row(22, "snare", "snare_x")]
    chosen = [dict(KIT[0], group_id=7), KIT[1]]
    got = fill.plan(chosen, KIT_V, cands, np.zeros((3, 2)), [3, 4], euclid)
    assert [c.row["sample_id"] for c in got] == [22]  # then nothing fits: pad 4 stays empty


def test_fill_skips_sounds_that_do_not_fit_a_pad():
    silent = dict(row(30, "hat-closed", "hat_a"), peak_dbfs=-90.0)
    too_long = row(31, "hat-closed", "hat_b", duration=5.0)
    contradicted = row(32, "hat-closed", "kick_c")  # its name says kick
    unsure = dict(row(34, "bass", "drum_2"), category_confidence=0.34, category_source="audio")
    good = row(33, "hat-closed", "hat_d")
    got = fill.plan(KIT, KIT_V, [silent, too_long, contradicted, unsure, good], np.zeros((5, 2)), [3, 4], euclid)
    assert [c.row["sample_id"] for c in got] == [33]  # the unsure "bass" is no role: pad 4 stays empty


def test_alternatives_are_nearest_first_never_the_sound_its_copies_or_other_pads():
    current = row(40, "kick", "kick_boom", group=3)
    cands = [row(41, "kick", "kick_punch"), dict(row(42, "kick", "kick_boom_copy"), group_id=3),
             row(43, "kick", "kick_deep"), row(44, "kick", "kick_tight"), row(45, "kick", "kick_dusty")]
    vecs = np.array([[3.0], [0.0], [1.0], [2.0], [0.5]])
    got = fill.alternatives(current, np.array([0.0]), cands, vecs, euclid, limit=3, taken={-45})
    assert [(r["sample_id"], d) for r, d in got] == [(43, 1.0), (44, 2.0), (41, 3.0)]
    layer = row(46, "kick", "kick_boom_soft")  # a softer layer of the pad's own drum: not "another kick"
    got = fill.alternatives(current, np.array([0.0]), [layer, cands[0]],
                            np.array([[0.1], [3.0]]), euclid, limit=3)
    assert [r["sample_id"] for r, _ in got] == [41]
    on_kit = {("/s", ("kick", "punch"))}  # a layer of kick_punch is on another pad: not offered either
    got = fill.alternatives(current, np.array([0.0]), [layer, cands[0], cands[2]], np.array([[0.1], [3.0], [4.0]]),
                            euclid, limit=3, taken_drums=on_kit)
    assert [r["sample_id"] for r, _ in got] == [43]


def test_a_kit_of_one_shots_is_filled_with_one_shots_and_alternatives_keep_the_pads_kind():
    loop = dict(row(50, "drum-loop", "beat_warm", duration=4.0), kind="loop")
    hat = row(51, "hat-closed", "hat_warm")
    got = fill.plan(KIT, KIT_V, [loop, hat], np.array([[0.0, 0.0], [5.0, 0.0]]), [3, 4], euclid)
    assert [c.row["sample_id"] for c in got] == [51]  # the nearer loop is not a drum kit's sound
    loops = [dict(row(52, "drum-loop", "beat_a", duration=4.0), kind="loop")]
    assert [c.row["sample_id"] for c in fill.plan(loops, np.zeros((1, 2)), [loop, hat], np.zeros((2, 2)), [2],
                                                  euclid)] == [50]
    alts = fill.alternatives(row(53, "hat-closed", "hat_x"), np.array([0.0, 0.0]), [loop, hat],
                             np.array([[0.0, 0.0], [5.0, 0.0]]), euclid, limit=5)
    assert [r["sample_id"] for r, _ in alts] == [51]
