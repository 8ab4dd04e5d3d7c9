"""`like:` in searches, `sp404d similar` and the socket's `similar`, on real analysed audio in a
real library (and a real daemon where it serves them)."""

import json
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest

from fixtures import music
from sp404d.kits import query
from tests.conftest import DaemonEnv, wait_until
from tests.test_dedupe import SR, quantised, write
from tests.test_fingerprint import drum_hit
from tests.test_same import closed_hat


def kick(seed: int, seconds: float = 0.3, f0: float = 50.0, click: float = 0.2) -> np.ndarray:
    """A kick drum: a sine sweeping down to f0 with a short click; each seed another strike."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    f = f0 + 120 * np.exp(-t / 0.03)
    y = np.sin(2 * np.pi * np.cumsum(f) / SR) * np.exp(-t / (seconds / 3))
    y += click * rng.normal(0, 1, t.size) * np.exp(-t / 0.004)
    return 0.9 * y / np.abs(y).max()


def library_files(root: Path, only: tuple[str, ...] | None = None) -> dict[str, Path]:
    ref = quantised(kick(1))
    sounds = {
        "ref": ("Mine/mykick.wav", lambda: ref),
        "quiet": ("Copies/mykick -6dB.wav", lambda: ref * 0.5),  # the same recording: its group
        "close": ("Kicks/kick close.wav", lambda: quantised(kick(2, f0=52))),
        "far": ("Kicks/kick clicky.wav", lambda: quantised(kick(3, f0=70, click=1.5))),
        "long": ("Kicks/kick long.wav", lambda: quantised(kick(4, seconds=1.4))),
        "snare": ("Snares/snare.wav", lambda: quantised(drum_hit(5))),
        "hat": ("Hats/hat.wav", lambda: quantised(closed_hat(6))),
        "twin_a": ("A/twin.wav", lambda: quantised(closed_hat(7))),
        "twin_b": ("B/twin.wav", lambda: quantised(drum_hit(8))),
    }
    out = {k: write(root / rel, y()) for k, (rel, y) in sounds.items() if only is None or k in only}
    if only is None:  # a drum loop, mostly kick: a kick asked about wants kicks, not this
        out["loop"] = music.write(root / "Loops" / "beat.wav", music.render_groove(100.0, 2, "four-on-the-floor"))
    return out


@pytest.fixture(scope="module")
def lib():
    """One library, analysed once by `sp404d import` (no daemon), for the read-only tests."""
    root = Path(tempfile.mkdtemp(prefix="sp4-"))
    env = DaemonEnv(root)
    files = library_files(root / "Packs")
    r = env.cli("import", str(root / "Packs"))
    assert r.returncode == 0, r.stderr
    try:
        yield env, files
    finally:
        shutil.rmtree(root, ignore_errors=True)


def jsonl(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines()]


def sample_id(env, path: Path) -> int:
    return env.rows("SELECT sample_id FROM location WHERE path = ?", (str(path),))[0][0]


def test_like_ranks_within_the_other_terms_and_never_shows_the_reference(lib):
    env, f = lib
    groups = env.rows("SELECT COUNT(DISTINCT s.group_id) FROM sample s JOIN location l ON l.sample_id = s.id "
                      "WHERE l.path IN (?, ?)", (str(f["ref"]), str(f["quiet"])))
    assert groups == [(1,)]  # the -6 dB copy is the reference's sound
    r = env.cli("search", "like:mykick.wav", "category:kick", "dur:<0.5", "--json")
    assert r.returncode == 0, r.stderr
    rows = jsonl(r.stdout)
    assert [row["path"] for row in rows] == [str(f["close"]), str(f["far"])]  # not too long, not a snare
    assert rows[0]["distance"] < rows[1]["distance"]
    everything = jsonl(env.cli("search", "like:mykick.wav", "--json", "--limit", "100").stdout)
    paths = [row["path"] for row in everything]
    assert str(f["ref"]) not in paths and str(f["quiet"]) not in paths
    assert len(paths) == len(f) - 2 and paths[0] == str(f["close"])
    assert [row["distance"] for row in everything] == sorted(row["distance"] for row in everything)
    text = env.cli("search", "like:mykick", "category:kick", "dur:<0.5").stdout  # the name without extension
    assert text.splitlines()[0].split("\t")[:2] == ["name", "distance"] and "kick close.wav\t" in text


def test_like_refuses_what_it_cannot_rank(lib):
    env, _ = lib
    for args, words in ((["like:a", "like:b"], "one like:"), (["--", "-like:mykick.wav"], "cannot be negated"),
                        (["like:mykick.wav", "sort:bpm"], "sort:")):
        r = env.cli("search", *args)
        assert r.returncode == 2 and words in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    with pytest.raises(query.QueryError):
        query.parse("like:x sort:-added")


def test_similar_text_json_and_every_kind_of_reference(lib):
    env, f = lib
    by_name = jsonl(env.cli("similar", "mykick.wav", "--json", "--limit", "3").stdout)
    assert len(by_name) == 3 and by_name[0]["path"] == str(f["close"])
    assert jsonl(env.cli("similar", str(f["quiet"]), "--json", "--limit", "3").stdout) == by_name  # its copy: the same sound
    assert jsonl(env.cli("similar", str(sample_id(env, f["ref"])), "--json", "--limit", "3").stdout) == by_name
    text = env.cli("similar", "mykick.wav", "--limit", "3").stdout.splitlines()
    assert text[0] == f"like {f['ref']} (all, one-shots only), nearest first:" and text[1].startswith("name\tdistance\t")
    assert len(text) == 5 and text[2].startswith("kick close.wav\t")
    timbre = jsonl(env.cli("similar", "mykick.wav", "--json", "--aspect", "timbre").stdout)
    assert {r["path"] for r in timbre} == {r["path"] for r in jsonl(env.cli("similar", "mykick.wav", "--json").stdout)}


def test_similar_answers_in_the_references_kind_unless_asked_for_any(lib):
    env, f = lib
    kinds = dict(env.rows("SELECT l.path, s.kind FROM location l JOIN sample s ON l.sample_id = s.id"))
    assert kinds[str(f["loop"])] == "loop" and kinds[str(f["ref"])] == "one-shot"
    one_shots = [r["path"] for r in jsonl(env.cli("similar", "mykick.wav", "--json", "--limit", "100").stdout)]
    assert str(f["loop"]) not in one_shots and len(one_shots) == len(f) - 3  # not itself, its copy or the loop
    every = [r["path"] for r in jsonl(env.cli("similar", "mykick.wav", "--json", "--limit", "100", "--any-kind").stdout)]
    assert str(f["loop"]) in every and len(every) == len(f) - 2
    assert env.cli("similar", "beat.wav", "--json").stdout == ""  # the only loop: no other loop to offer
    assert "mykick.wav" in env.cli("similar", "beat.wav", "--json", "--any-kind").stdout


def test_an_unknown_or_ambiguous_reference_is_one_line(lib):
    env, f = lib
    for args, words in ((["nope.wav"], "no file is called 'nope.wav'"), (["999999"], "no sample has id 999999"),
                        (["/no/such/kick.wav"], "the library has no file /no/such/kick.wav"),
                        (["twin.wav"], f"2 different sounds are called 'twin.wav': {f['twin_a']}, {f['twin_b']}"),
                        (["mykick.wav", "--aspect", "loudness"], "unknown aspect 'loudness'")):
        r = env.cli("similar", *args)
        assert r.returncode != 0 and words in r.stderr, r.stderr
        assert len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr
    r = env.cli("search", "like:nope.wav")
    assert r.returncode == 1 and r.stderr.strip().count("\n") == 0 and "nope.wav" in r.stderr


def test_the_daemon_serves_similar_and_finds_a_sound_that_just_arrived(daemon_env):
    env = daemon_env
    env.drop.mkdir(parents=True)
    files = library_files(env.drop, only=("ref", "quiet", "far", "snare", "hat"))
    env.start()
    env.wait_idle(len(files))
    reply = env.request("similar", ref="mykick.wav", limit=10)
    assert reply["reference"]["path"] in (str(files["ref"]), str(files["quiet"]))
    assert [r["path"] for r in reply["sounds"]][0] == str(files["far"]) and len(reply["sounds"]) == 3
    assert env.request("similar", ref=str(files["ref"]), limit=2, aspect="envelope")["aspect"] == "envelope"

    new = write(env.drop / "later" / "kick close.wav", quantised(kick(2, f0=52)))  # the daemon is running
    env.wait_idle(len(files) + 1)
    first = wait_until(lambda: env.request("similar", ref="mykick.wav", limit=1)["sounds"], 10, what="the new sound")
    assert first[0]["path"] == str(new)
    cli = env.cli("similar", "mykick.wav", "--json", "--limit", "1")  # the CLI asks the daemon
    assert cli.returncode == 0 and jsonl(cli.stdout)[0]["path"] == str(new)

    from sp404d.errors import Sp404dError
    with pytest.raises(Sp404dError, match="no file is called"):
        env.request("similar", ref="nope.wav")
    with pytest.raises(Sp404dError, match='"limit" must be'):
        env.request("similar", ref="mykick.wav", limit="many")
    r = env.cli("similar", "nope.wav")
    assert r.returncode == 1 and len(r.stderr.strip().splitlines()) == 1

    # kit edits go through the daemon's writer, and exit as they do without a daemon
    assert env.cli("kit", "new", "Near").returncode == 0
    assert env.cli("kit", "set", "Near", "1", "like:mykick.wav").returncode == 0
    r = env.cli("kit", "set", "Near", "2", "bpm:fast")
    assert r.returncode == 2 and "bpm:fast" in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    shown = json.loads(env.cli("kit", "show", "Near", "--json").stdout)
    assert shown["pads"][0]["path"] == str(new)
    assert env.cli("kit", "delete", "Near").returncode == 0
    assert "Near" not in env.cli("kits").stdout
    assert env.stop() == 0


def test_a_file_that_could_not_be_analysed_is_named_as_such_not_as_unknown(lib):
    env, f = lib
    broken = f["ref"].parent.parent / "Broken" / "empty one.wav"
    broken.parent.mkdir()
    broken.write_bytes(b"")
    assert env.cli("import", str(broken.parent)).returncode == 0
    for ref in ("empty one.wav", "empty one", str(broken)):
        r = env.cli("similar", ref)
        assert r.returncode != 0 and len(r.stderr.strip().splitlines()) == 1, r.stderr
        assert f"{broken} could not be analysed (empty: " in r.stderr and "sp404d failures" in r.stderr, r.stderr
