"""The command line: exit codes, JSON output, one-line errors, `doctor`, `failures`, `status --follow`."""

from __future__ import annotations

import base64
import json
import os
import signal
import socket
import subprocess
import sys

from fixtures.audio import hit, write, write_bad_files
from tests.conftest import wait_until
from tests.test_pure import strict_loads


def lines(r) -> list[dict]:
    return [json.loads(line) for line in r.stdout.splitlines() if line.strip()]


def one_line_error(r, code: int, text: str) -> None:
    assert r.returncode == code, (r.returncode, r.stdout, r.stderr)
    assert r.stderr.count("\n") == 1 and text in r.stderr and "Traceback" not in r.stderr, r.stderr


def test_library_commands_without_a_daemon(daemon_env, tmp_path):
    env = daemon_env
    one_line_error(env.cli("status"), 3, "sp404d is not running")
    for i, name in enumerate(("kick_1", "kick_2", "snare_1", "hh_closed", "vox_hey")):
        write(tmp_path / "Lib" / f"{name}.wav", hit(500 + i, 0.3))
    write_bad_files(tmp_path / "Lib" / "bad")
    assert env.cli("import", str(tmp_path / "Lib")).returncode == 0

    found = lines(env.cli("search", "category:kick", "--json"))
    assert sorted(os.path.basename(r["path"]) for r in found) == ["kick_1.wav", "kick_2.wav"]
    assert all(r["category"] == "kick" and r["kind"] == "one-shot" for r in found)
    assert [os.path.basename(r["path"]) for r in lines(env.cli("search", "kick", "-kick_2", "--json"))] == ["kick_1.wav"]
    assert len(lines(env.cli("search", "--limit", "2", "--json"))) == 2
    table = env.cli("search", "category:snare")
    assert table.stdout.splitlines()[0].split("\t") == ["name", "category", "bpm", "key", "dur", "path"]
    one_line_error(env.cli("search", "bpm:fast"), 2, "'bpm:fast'")

    kits = {k["name"]: k for k in lines(env.cli("kits", "--json"))}
    assert kits["DRUMS"]["filled"] == 4 and kits["NEW"]["filled"] == 5  # kick_1 and kick_2: layers of one drum
    assert env.cli("kit", "new", "Lo-Fi", "--filter", "kind:one-shot").returncode == 0
    one_line_error(env.cli("kit", "new", "lo-fi"), 1, "already exists")
    one_line_error(env.cli("kit", "new", "../x"), 1, "must not contain")
    assert env.cli("kit", "set", "Lo-Fi", "1", "category:snare").returncode == 0
    assert env.cli("kit", "pin", "Lo-Fi", "2", str(tmp_path / "Lib" / "vox_hey.wav")).returncode == 0
    one_line_error(env.cli("kit", "pin", "Lo-Fi", "3", "/no/such.wav"), 1, "is not a sample id, a path or a file name the library knows")
    one_line_error(env.cli("kit", "show", "nope"), 1, "no kit named 'nope'")
    one_line_error(env.cli("kit", "set", "Lo-Fi", "17", "kick"), 2, "pad must be a number from 1 to 16")
    shown = json.loads(env.cli("kit", "show", "Lo-Fi", "--json").stdout)
    pads = {p["pad"]: p for p in shown["pads"]}
    assert shown["folder"] == "LO-FI" and pads[1]["category"] == "snare" and pads[2]["card_name"] == "02_vox_hey.WAV"
    assert pads[3]["card_name"] is None and pads[3]["why"].startswith("no query or pin")
    assert env.cli("kit", "new", "Scratch").returncode == 0
    deleted = env.cli("kit", "delete", "scratch")
    assert deleted.returncode == 0 and "deleted" in deleted.stdout, deleted.stderr
    assert "Scratch" not in {k["name"] for k in lines(env.cli("kits", "--json"))}
    one_line_error(env.cli("kit", "delete", "Scratch"), 1, "no kit named 'Scratch'")
    one_line_error(env.cli("kit", "delete", "DRUMS"), 1, "comes from the config, not from `kit new`, and stays; to keep it off the card, add a [[kits]] table")
    assert env.cli("kit", "set", "DRUMS", "16", "category:snare").returncode == 0  # a config kit, changed here
    dropped = env.cli("kit", "delete", "DRUMS")
    assert dropped.returncode == 0 and "stays as the config file defines it" in dropped.stdout
    assert {k["name"]: k["origin"] for k in lines(env.cli("kits", "--json"))}["DRUMS"] == "config"

    failed = lines(env.cli("failures", "--json"))
    assert {f["category"] for f in failed} == {"corrupt", "empty", "unsupported"} and len(failed) == 5
    retry = env.cli("failures", "--retry", "--json")
    assert retry.returncode == 0 and json.loads(retry.stdout)["failed"] == 5
    assert {f["attempts"] for f in lines(env.cli("failures", "--json"))} == {2}
    assert "5 failed file(s)" in env.cli("failures").stdout
    assert {f["category"] for f in lines(env.cli("failures", "--category", "empty", "--json"))} == {"empty"}
    empties = len(lines(env.cli("failures", "--category", "empty", "--json")))
    retry = env.cli("failures", "--retry", "--category", "empty", "--json")  # only that category is tried again
    assert retry.returncode == 0 and json.loads(retry.stdout)["failed"] == empties
    assert {(f["category"], f["attempts"]) for f in lines(env.cli("failures", "--json"))} == {
        ("empty", 3), ("corrupt", 2), ("unsupported", 2)}
    one_line_error(env.cli("failures", "--category", "bogus"), 2,
                   "unknown failure category 'bogus' (categories: unreadable, empty, unsupported, corrupt, too-large, "
                   "timeout, crash)")

    assert env.cli("dupes", "--json").stdout == ""
    one_line_error(env.cli("sync"), 1, "no SP-404MKII card is mounted")
    one_line_error(env.cli("sync", "--card", "/no/card"), 1, "no card at /no/card")


def names_in(obj) -> set[bytes]:
    """The exact names that strict JSON carries in `_bytes` fields, anywhere in `obj`."""
    found = set()
    if isinstance(obj, dict):
        for k, v in obj.items():
            if k.endswith("_bytes") and k[:-6] in obj:  # not freeable_bytes, a number
                found |= {base64.b64decode(x) for x in (v if isinstance(v, list) else [v]) if x}
            else:
                found |= names_in(v)
    elif isinstance(obj, list):
        for v in obj:
            found |= names_in(v)
    return found


def test_json_output_is_strict_json_for_names_that_are_not_utf8(daemon_env, tmp_path):
    """A name that is not UTF-8 comes out as `path` (bytes as \\xNN) plus `path_bytes` (base64) in
    every JSON output and socket reply, parsed here as a strict parser would."""
    env = daemon_env

    def run(*args) -> list:
        r = subprocess.run([sys.executable, "-m", "sp404d", *args], capture_output=True, env=env.env, timeout=120)
        assert r.returncode == 0, r.stderr
        if args[0] == "status":  # one object over several lines
            return [strict_loads(r.stdout)]
        return [strict_loads(line) for line in r.stdout.splitlines() if line.strip()]

    lib = os.fsencode(tmp_path / "Lib")
    os.makedirs(lib)
    sound = write(tmp_path / "k.wav", hit(7, 0.3)).read_bytes()
    bad, copy, broken = (os.path.join(lib, n) for n in (b"bad\xff\xfe_name.wav", b"copy_caf\xe9.wav", b"broken\xff.wav"))
    for name, data in ((bad, sound), (copy, sound), (broken, sound[:60])):  # a copy: a duplicate; cut short: fails
        with open(name, "wb") as f:
            f.write(data)
    run("import", str(tmp_path / "Lib"), "--json")
    assert names_in(run("export")) == {bad, copy}
    assert names_in(run("dupes", "--json")) == {bad, copy}
    assert names_in(run("search", "--json")) & {bad, copy}
    assert names_in(run("kit", "show", "NEW", "--json")) & {bad, copy}
    assert names_in(run("failures", "--json")) == {broken}
    shown = run("failures", "--json")[0]["path"]
    assert shown == os.fsdecode(lib) + "/broken\\xff.wav"  # readable, and valid UTF-8

    env.start()
    dropped = os.path.join(os.fsencode(env.drop), b"dropped\xfe.wav")
    with open(dropped, "wb") as f:
        f.write(sound[:70])
    wait_until(lambda: env.status()["last_errors"], 30, what="the dropped file to fail")
    assert names_in(run("status", "--json")) == {dropped}
    with socket.socket(socket.AF_UNIX) as s:  # the socket's own reply line, as any client reads it
        s.connect(str(env.socket))
        s.sendall(b"status\n")
        raw = s.makefile("rb").readline()
    assert names_in(strict_loads(raw)) == {dropped}
    folder = os.path.join(os.fsencode(tmp_path), b"Pack\xff")  # handed to the daemon over the socket
    os.makedirs(folder)
    with open(os.path.join(folder, b"one.wav"), "wb") as f:
        f.write(write(tmp_path / "one.wav", hit(8, 0.3)).read_bytes())
    job = run("import", folder, "--json")[0]
    assert job["recorded"] == 1 and names_in(job) == {folder}
    assert os.path.join(folder, b"one.wav") in {p for (p,) in env.rows("SELECT path FROM location")}


def test_doctor_on_a_healthy_and_a_broken_setup(daemon_env, tmp_path):
    env = daemon_env
    env.drop.mkdir(parents=True)
    r = env.cli("doctor", "--json")
    checks = {c["name"]: c for c in json.loads(r.stdout)}
    assert r.returncode == 0, r.stdout
    assert checks[f"watch {env.drop}"]["status"] == "ok" and checks["daemon"]["status"] == "warn"
    env.start()
    r = env.cli("doctor")
    assert r.returncode == 0 and "ok    daemon: answers on" in r.stdout and "ok    library integrity" in r.stdout
    env.stop()

    env.library.write_bytes(b"this is not a database" * 100)  # a broken library
    r = env.cli("doctor")
    assert r.returncode == 1 and "FAIL  library" in r.stdout and "fix:" in r.stdout


def test_doctor_with_a_broken_config_fails_that_check_and_runs_the_others(daemon_env):
    env = daemon_env
    good = env.config.read_text()
    for broken, says in ((good.replace("[watch]\n", "[watch]\nsettle = 3\n"), "unknown key watch.settle"),
                         (good + "[watch\n", "not valid TOML")):
        env.config.write_text(broken)
        r = env.cli("doctor")
        assert r.returncode == 1 and r.stderr == "", (r.stdout, r.stderr)
        out = r.stdout.splitlines()
        assert out[0].startswith("FAIL  config: ") and says in out[0] and str(env.config) in out[0]
        assert out[1].startswith("      fix: ")
        assert any(line.startswith(("ok    ffmpeg", "WARN  ffmpeg")) for line in out)
        assert any(line.startswith("ok    inotify: max_user_watches") for line in out)
        assert "skip  watch folders, daemon, library, cards: not checked until the config is valid" in out
        assert out[-1] == "1 problem(s) found"
        r = env.cli("doctor", "--json")
        checks = json.loads(r.stdout)
        assert r.returncode == 1 and [c["status"] for c in checks if c["name"] == "config"] == ["fail"]
        assert {c["name"] for c in checks} >= {"config", "ffmpeg", "inotify"}
    one_line_error(env.cli("status"), 78, "not valid TOML")  # the other commands still stop at it


def test_doctor_points_at_a_config_file_of_the_wrong_name(tmp_path):
    """The user wrote ~/.config/sp404d/config.toml; sp404d reads sp404d.toml there."""
    home = tmp_path / "home"
    folder = home / ".config" / "sp404d"
    folder.mkdir(parents=True)
    env = {k: v for k, v in os.environ.items() if k != "SP404D_CONFIG"}
    env.update(HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"), XDG_DATA_HOME=str(home / ".local/share"),
               XDG_RUNTIME_DIR=str(tmp_path / "run"))

    def config_check() -> dict:
        r = subprocess.run([sys.executable, "-m", "sp404d", "doctor", "--json"], capture_output=True, text=True,
                           env=env, timeout=60)
        return next(c for c in json.loads(r.stdout) if c["name"] == "config")
    assert config_check()["status"] == "ok"
    (folder / "config.toml").write_text('[watch]\nfolders = ["~/Samples"]\n')
    check = config_check()
    assert check["status"] == "warn" and "config.toml" in check["detail"] and check["fix"].endswith("sp404d.toml")
    (folder / "config.toml").rename(folder / "sp404d.toml")
    check = config_check()
    assert check["status"] == "ok" and check["detail"].endswith(str(folder / "sp404d.toml"))


def test_bad_config_and_unknown_commands_are_one_line(daemon_env):
    env = daemon_env
    good = env.config.read_text()
    env.config.write_text(good.replace("[watch]\n", "[watch]\nsettle = 3\n"))
    one_line_error(env.cli("status"), 78, "unknown key watch.settle")
    env.config.write_text(good + '[[kits]]\nname = "X"\npads = ["bpm:fast"]\n')
    one_line_error(env.cli("kits"), 78, "kit 'X': pad 1: bad number or range in 'bpm:fast'")
    r = env.cli("frobnicate")
    assert r.returncode == 2 and "invalid choice" in r.stderr
    helps = env.cli("--help").stdout
    for command in ("run", "status", "import", "export", "search", "kits", "kit", "sync", "dupes", "failures",
                    "doctor", "pause", "resume", "rescan"):
        assert f"    {command}" in helps


def test_status_follow_streams_events_and_outlives_the_daemon(daemon_env):
    """(More in test_follow.py: every job, state and card sync, a restart, the live display.)"""
    env = daemon_env
    env.start()
    follow = subprocess.Popen([sys.executable, "-m", "sp404d", "status", "--follow", "--json"], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=env.env)
    first = json.loads(follow.stdout.readline())
    assert first["event"] == "status" and first["state"] in ("idle", "busy") and "counters" in first
    write(env.drop / "one.wav", hit(3, 0.2))
    event = next(e for e in map(json.loads, follow.stdout) if e["event"] == "progress")
    assert event["recorded"] == 1
    env.stop()
    assert next(e for e in map(json.loads, follow.stdout) if e["event"] == "disconnected")["reason"]
    assert follow.poll() is None  # it waits for the daemon to come back, until Ctrl-C
    follow.send_signal(signal.SIGINT)
    assert follow.wait(20) == 130
