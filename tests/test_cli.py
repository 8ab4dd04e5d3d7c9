"""The command line: exit codes, JSON output, one-line errors, `doctor`, `failures`, `status --follow`."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from fixtures.audio import hit, write, write_bad_files
from tests.conftest import wait_until


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
    one_line_error(env.cli("kit", "pin", "Lo-Fi", "3", "/no/such.wav"), 1, "not a sample id or a file in the library")
    one_line_error(env.cli("kit", "show", "nope"), 1, "no kit named 'nope'")
    one_line_error(env.cli("kit", "set", "Lo-Fi", "17", "kick"), 1, "pad must be a number from 1 to 16")
    shown = json.loads(env.cli("kit", "show", "Lo-Fi", "--json").stdout)
    pads = {p["pad"]: p for p in shown["pads"]}
    assert shown["folder"] == "LO-FI" and pads[1]["category"] == "snare" and pads[2]["card_name"] == "02_vox_hey.WAV"
    assert pads[3]["card_name"] is None and pads[3]["why"] == "no slot"

    failed = lines(env.cli("failures", "--json"))
    assert {f["category"] for f in failed} == {"corrupt", "empty", "unsupported"} and len(failed) == 5
    retry = env.cli("failures", "--retry", "--json")
    assert retry.returncode == 0 and json.loads(retry.stdout)["failed"] == 5
    assert {f["attempts"] for f in lines(env.cli("failures", "--json"))} == {2}
    assert "5 failed file(s)" in env.cli("failures").stdout

    assert env.cli("dupes", "--json").stdout == ""
    one_line_error(env.cli("sync"), 1, "no SP-404MKII card is mounted")
    one_line_error(env.cli("sync", "--card", "/no/card"), 1, "no card at /no/card")


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


def test_status_follow_streams_events_until_the_daemon_stops(daemon_env):
    env = daemon_env
    env.start()
    follow = subprocess.Popen([sys.executable, "-m", "sp404d", "status", "--follow", "--json"], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=env.env)
    first = json.loads(follow.stdout.readline())
    assert first["state"] in ("idle", "busy") and "counters" in first
    write(env.drop / "one.wav", hit(3, 0.2))
    event = json.loads(follow.stdout.readline())
    assert event["event"] == "progress" and event["recorded"] == 1
    env.stop()
    wait_until(lambda: follow.poll() is not None, 20, what="follow to end with the daemon")
    assert follow.returncode == 0
