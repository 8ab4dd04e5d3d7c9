"""`kit fill` and `kit alt` on a real library (real SQLite, real import runs, the CLI's own writer
and the daemon's): fill takes only empty pads, never a pinned or queried one; alt lists other
sounds, never the pad's sound or its copies; --pick pins."""

from __future__ import annotations

import json
import os

import numpy as np

from fixtures import music
from fixtures.audio import write


def varied(y: np.ndarray, seed: int) -> np.ndarray:
    """Another drum of the same kind: tuned by `seed` (synth_hits' kick is the same at every seed)."""
    ratio = 1.0 + 0.13 * seed
    return np.interp(np.arange(0, y.size, ratio), np.arange(y.size), y)


def drums(folder, seed: int, names=("kick", "snare", "hat", "ohat")) -> dict[str, object]:
    hits = music.synth_hits(seed)
    out = {}
    for name in names:
        h = varied(hits[name], seed)
        y = (h / np.abs(h).max() * 0.8 * 32767).astype(np.int16)
        label = {"hat": "hihat_closed", "ohat": "hihat_open"}.get(name, name)
        out[name] = write(folder / f"{label}_{seed:02d}x.wav", y[:, None], rate=music.SR)
    return out


def show(env, kit: str) -> dict[int, dict]:
    r = env.cli("kit", "show", kit, "--json")
    assert r.returncode == 0, r.stderr
    return {p["pad"]: p for p in json.loads(r.stdout)["pads"]}


def test_fill_takes_only_empty_pads_and_alt_pick_pins(daemon_env, tmp_path):
    env = daemon_env
    lib = tmp_path / "lib"
    made = {seed: drums(lib / f"kit{seed}", seed) for seed in range(1, 7)}  # 24 sounds: some left over
    kick = made[1]["kick"]
    k = varied(music.synth_hits(1)["kick"], 1)
    quiet = write(lib / "copies" / "kick_copy_quiet.wav",  # a -6 dB copy: the same sound as the pinned kick
                  (k / np.abs(k).max() * 0.4 * 32767).astype(np.int16)[:, None], rate=music.SR)
    assert env.cli("import", str(lib)).returncode == 0

    assert env.cli("kit", "new", "mine").returncode == 0
    assert env.cli("kit", "pin", "mine", "1", kick.name).returncode == 0  # a file name one sound has is enough
    assert env.cli("kit", "set", "mine", "2", "category:snare").returncode == 0
    before = show(env, "mine")
    r = env.cli("kit", "fill", "mine", "--json")
    assert r.returncode == 0, r.stderr
    filled = json.loads(r.stdout)["filled"]
    assert filled and all(f["pad"] > 2 for f in filled)  # pad 1 pinned, pad 2 queried: the user's
    after = show(env, "mine")
    assert after[1]["path"] == before[1]["path"] == str(kick) and after[2]["why"].startswith("query:")
    assert {f["pad"] for f in filled} == {p for p, v in after.items() if p > 2 and v.get("path")}
    assert after[3]["why"] == f"pinned {os.path.basename(after[3]['path'])} (sample {filled[0]['sample_id']})"
    roles = [f["category"] for f in filled]
    assert {"hat-closed", "hat-open"} <= set(roles[:3])  # the roles the kit lacked come first
    paths = [v["path"] for v in after.values() if v.get("path")]
    assert len(paths) == len(set(paths)) and str(quiet) not in paths  # no sound twice, nor a copy of one
    assert env.cli("kit", "fill", "mine").returncode == 0  # again: nothing empty is left that fits
    assert show(env, "mine") == after

    # a pad query with like: takes the nearest sound that fits and is not on another pad
    assert env.cli("kit", "set", "mine", "2", f"like:{kick} category:kick").returncode == 0
    liked = show(env, "mine")[2]
    assert liked["category"] == "kick" and liked["path"] not in (str(kick), str(quiet))
    assert liked["path"] not in [v.get("path") for p, v in show(env, "mine").items() if p != 2]

    r = env.cli("kit", "alt", "mine", "1", "--json")
    assert r.returncode == 0, r.stderr
    alts = json.loads(r.stdout)["alternatives"]
    listed = [a["path"] for a in alts]
    assert alts and str(kick) not in listed and str(quiet) not in listed
    assert {a["category"] for a in alts} == {"kick"}  # a pinned pad's alternatives are of its sound's role
    assert [a["distance"] for a in alts] == sorted(a["distance"] for a in alts)
    env.start()  # --pick goes through the running daemon's writer
    r = env.cli("kit", "alt", "mine", "1", "--pick", "1")
    assert r.returncode == 0, r.stderr
    assert show(env, "mine")[1]["path"] == listed[0]
    bad = env.cli("kit", "alt", "mine", "1", "--pick", "99")
    assert bad.returncode != 0 and "Traceback" not in bad.stderr and len(bad.stderr.strip().splitlines()) == 1
    assert env.stop() == 0


def test_fill_says_in_one_line_when_the_kit_has_nothing_to_fill_around(daemon_env, tmp_path):
    env = daemon_env
    drums(tmp_path / "lib", 4)
    assert env.cli("import", str(tmp_path / "lib")).returncode == 0
    assert env.cli("kit", "new", "empty").returncode == 0
    r = env.cli("kit", "fill", "empty")
    assert r.returncode != 0 and "set or pin a pad first" in r.stderr and "Traceback" not in r.stderr
    # every pad of the packaged DRUMS has a query: nothing to fill, and the kit stays the config's alone
    r = env.cli("kit", "fill", "DRUMS")
    assert r.returncode == 0 and "nothing to fill" in r.stdout
    kits = {k["name"]: k for k in map(json.loads, env.cli("kits", "--json").stdout.splitlines())}
    assert kits["DRUMS"]["origin"] == "config"
