"""The packaged DRUMS kit across real imports (real SQLite, real import runs): a later drop takes a
pad only where a clearly better match arrived; NEW still takes the newest."""

from __future__ import annotations

import json

from fixtures.audio import hit, write


def pads(env, kit: str) -> dict[int, str | None]:
    shown = json.loads(env.cli("kit", "show", kit, "--json").stdout)
    return {p["pad"]: p.get("path", "").split("/lib/")[-1] if p.get("path") else None for p in shown["pads"]}


def test_a_later_drop_takes_a_pad_only_with_a_clearly_better_match(daemon_env, tmp_path):
    env = daemon_env
    lib = tmp_path / "lib"
    # only a folder says these are kicks; the third is named one
    for i, name in enumerate(["Kicks/hit_a", "Kicks/hit_b", "Drums/kick_boom"]):
        write(lib / "one" / f"{name}.wav", hit(700 + i, 0.3))
    assert env.cli("import", str(lib / "one")).returncode == 0
    first = pads(env, "DRUMS")
    assert first[1] == "one/Drums/kick_boom.wav" and first[2].startswith("one/Kicks/hit_")

    write(lib / "two" / "More" / "kick_deep.wav", hit(710, 0.3))  # named: clearly better than a folder's word
    assert env.cli("import", str(lib / "two")).returncode == 0
    second = pads(env, "DRUMS")
    assert second[1] == first[1] and second[2] == "two/More/kick_deep.wav"
    assert {p: s for p, s in second.items() if p > 2} == {p: s for p, s in first.items() if p > 2}

    write(lib / "three" / "Extra" / "kick_huge.wav", hit(720, 0.3))  # as good as the kicks on the kit: no better
    assert env.cli("import", str(lib / "three")).returncode == 0
    assert pads(env, "DRUMS") == second
    assert pads(env, "NEW")[1] == "three/Extra/kick_huge.wav"  # NEW: the newest, as ever
