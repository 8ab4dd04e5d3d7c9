"""The daemon end to end: a real subprocess, real watchdog observer, real worker processes, a
real SQLite file and its real Unix socket."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import stat
import subprocess
import threading
import time
from pathlib import Path

import pytest

from fixtures.audio import hit, make_pack, write, write_bad_files
from sp404d.errors import DaemonRefused
from tests.conftest import wait_until


def copy_slowly(files: list[Path], src_root: Path, dest_root: Path, chunk_pause: float = 0.0, every: int = 50):
    """Copy like a file manager: chunk by chunk; every `every`-th file pauses between chunks,
    so the daemon sees files that are still growing."""
    for i, src in enumerate(files):
        dest = dest_root / src.relative_to(src_root)
        dest.parent.mkdir(parents=True, exist_ok=True)
        data = src.read_bytes()
        with open(dest, "wb") as f:
            if chunk_pause and i % every == 0:
                for start in range(0, len(data), max(1, len(data) // 4)):
                    f.write(data[start:start + max(1, len(data) // 4)])
                    f.flush()
                    time.sleep(chunk_pause)
            else:
                f.write(data)


def assert_recorded_exactly_once(env, pack, root: Path):
    paths = [r[0] for r in env.rows("SELECT path FROM location")]
    assert len(paths) == len(set(paths)), "a path was recorded twice"
    expected = {str(root / p.relative_to(pack_root(pack))) for p in pack.files}
    assert set(paths) == expected
    assert env.rows("PRAGMA integrity_check") == [("ok",)]
    # true duplicates point at one sample; different sounds at different ones
    sample_of = dict(env.rows("SELECT path, sample_id FROM location"))
    groups: dict[int, set[int]] = {}
    for p in pack.files:
        groups.setdefault(pack.group_of[p], set()).add(sample_of[str(root / p.relative_to(pack_root(pack)))])
    assert all(len(s) == 1 for s in groups.values())
    assert len({next(iter(s)) for s in groups.values()}) == len(groups)


def pack_root(pack) -> Path:
    return Path(os.path.commonpath([str(p) for p in pack.files])).parent


@pytest.fixture(scope="module")
def pack2000(tmp_path_factory):
    root = tmp_path_factory.mktemp("pack")
    return make_pack(root / "Pack", 2000, seed=1)


def test_2000_file_drop_while_copying_is_recorded_exactly_once(daemon_env, pack2000):
    """Acceptance 1: 2,000 mixed WAV/FLAC/OGG/MP3/AIFF files copied in while the daemon watches."""
    env = daemon_env
    env.start()
    copy_slowly(pack2000.files, pack_root(pack2000), env.drop, chunk_pause=0.15, every=100)
    status = env.wait_idle(2000)
    assert_recorded_exactly_once(env, pack2000, env.drop)
    c, t = status["counters"], status["totals"]
    assert c["failed"] == 0 and t["failed"] == 0
    assert t["locations"] == 2000 and t["samples"] == pack2000.sounds
    assert c["recorded"] == t["locations"] and c["duplicates"] == t["duplicates"] == 2000 - pack2000.sounds
    assert env.rows("SELECT count(*) FROM location WHERE match = 'exact-bytes'")[0][0] > 0
    assert env.rows("SELECT count(*) FROM location WHERE match = 'exact-pcm'")[0][0] > 0
    assert env.stop() == 0


def test_kill_9_during_a_drop_loses_nothing(daemon_env, tmp_path):
    """kill -9 at random moments of a 2,000-file drop, ten times: every file recorded exactly once,
    no duplicated rows, PRAGMA integrity_check ok."""
    env = daemon_env
    pack = make_pack(tmp_path / "Pack", 2000, seed=2)
    files = pack.files
    rng = random.Random(404)
    copier = threading.Thread(target=copy_slowly, args=(files, pack_root(pack), env.drop, 0.02, 10))
    env.start()
    copier.start()
    for _ in range(10):
        time.sleep(rng.uniform(0.3, 2.0))
        env.stop(signal.SIGKILL)
        time.sleep(rng.uniform(0.0, 0.5))  # files keep arriving while it is down
        env.start()
    copier.join()
    env.wait_idle(len(files))
    assert_recorded_exactly_once(env, pack, env.drop)
    assert env.rows("SELECT count(*) FROM failure")[0][0] == 0
    assert env.stop() == 0


def test_bad_files_are_failed_with_a_category_and_the_rest_is_recorded(daemon_env, tmp_path):
    """Acceptance 4."""
    env = daemon_env
    env.start()
    expected = write_bad_files(env.drop / "bad")
    for i in range(20):
        write(env.drop / "good" / f"g{i}.wav", hit(500 + i))
    env.wait_idle(20 + len(expected))
    failed = dict(env.rows("SELECT path, category FROM failure"))
    assert failed == {str(p): cat for p, cat in expected.items()}
    assert env.rows("SELECT count(*) FROM location")[0][0] == 20
    s = env.status()
    assert sum(s["failed_by_category"].values()) == len(expected) and env.answers()
    # a failed file is not retried while it is unchanged, even by a rescan
    env.request("rescan")
    wait_until(lambda: env.status()["state"] == "idle", 30)
    assert env.rows("SELECT max(attempts) FROM failure")[0][0] == 1
    # a failed file fixed in place is recorded, and status no longer shows its error
    broken = next(p for p, cat in expected.items() if cat == "corrupt")
    assert str(broken) in {e["path"] for e in env.status()["last_errors"]}
    write(broken, hit(77))
    wait_until(lambda: env.rows("SELECT count(*) FROM location")[0][0] == 21, 30, what="the fixed file")
    wait_until(lambda: str(broken) not in {e["path"] for e in env.status()["last_errors"]}, 10, what="the error gone")


def test_rename_move_and_delete_update_locations_without_reanalysis(daemon_env):
    env = daemon_env
    env.start()
    write(env.drop / "a" / "kick.wav", hit(1))
    write(env.drop / "a" / "snare.wav", hit(2))
    write(env.drop / "a" / "hat.wav", hit(3))
    env.wait_idle(3)
    analysed = env.status()["counters"]["analysed"]
    os.rename(env.drop / "a" / "kick.wav", env.drop / "a" / "Kick 01.wav")
    os.rename(env.drop / "a", env.drop / "b")
    os.unlink(env.drop / "b" / "hat.wav")

    def settled():
        rows = dict(env.rows("SELECT path, state FROM location"))
        return rows == {str(env.drop / "b" / "Kick 01.wav"): "present", str(env.drop / "b" / "snare.wav"): "present",
                        str(env.drop / "b" / "hat.wav"): "missing"}
    wait_until(settled, 20, what="moves recorded")
    assert env.status()["counters"]["analysed"] == analysed
    assert env.rows("SELECT count(*) FROM sample")[0][0] == 3  # nothing deleted


def test_status_cli_socat_and_socket_permissions(daemon_env):
    env = daemon_env
    r = env.cli("status")
    assert r.returncode == 3 and r.stderr.count("\n") == 1 and "not running" in r.stderr
    env.start()
    r = env.cli("status")
    assert r.returncode == 0 and "idle" in r.stdout and str(env.drop) in r.stdout
    full = json.loads(env.cli("status", "--json").stdout)
    for key in ("state", "uptime", "version", "roots", "queues", "counters", "rate_per_second", "eta_seconds",
                "totals", "last_errors", "failed_by_category"):
        assert key in full
    assert set(full["queues"]) == {"settling", "queued", "analysing", "writing"}
    assert full["roots"][0]["observer"] in ("inotify", "fsevents", "kqueue", "polling")
    if shutil.which("socat"):
        out = subprocess.run(f"echo status | socat - UNIX-CONNECT:{env.socket}", shell=True,
                             capture_output=True, text=True, timeout=10).stdout
        assert len(out.splitlines()) == 1 and json.loads(out)["ok"] is True
    assert stat.S_IMODE(env.socket.stat().st_mode) == 0o600
    assert stat.S_IMODE(env.socket.parent.stat().st_mode) == 0o700
    bad = env.request  # unknown commands get a numbered error
    with pytest.raises(DaemonRefused, match="frobnicate") as refused:
        bad("frobnicate")
    assert refused.value.code == 2
    assert env.stop() == 0
    assert not env.socket.exists()


def test_pause_resume_and_subscribe(daemon_env):
    env = daemon_env
    env.start()
    write(env.drop / "before.wav", hit(8))
    env.wait_idle(1)  # a finish within the last minute: a rate to show
    assert env.request("pause")["state"] == "paused"
    write(env.drop / "p.wav", hit(9))
    time.sleep(1.5)
    status = env.status()
    assert status["totals"]["locations"] == 1 and status["queues"]["queued"] == 1  # the paused file is counted
    # nothing goes through while paused: no rate (the last drop's was still shown) and no time to promise
    assert status["rate_per_second"] == 0 and status["eta_seconds"] is None
    from sp404d.control.client import Client

    with Client(env.socket) as c:
        events = c.events()
        env.request("resume")
        event = next(e for e in events if e["event"] == "progress")
    assert event["counters"]["recorded"] == 2


def test_a_second_daemon_refuses_and_sigterm_exits_cleanly(daemon_env):
    env = daemon_env
    env.start()
    r = env.cli("run", timeout=30)
    assert r.returncode != 0 and "already running" in r.stderr
    t = time.monotonic()
    assert env.stop(signal.SIGTERM) == 0 and time.monotonic() - t < 10


def test_sp404d_stop_stops_the_daemon_cleanly_and_says_so(daemon_env):
    env = daemon_env
    proc = env.start()
    r = env.cli("stop", timeout=60)
    assert r.returncode == 0 and f"sp404d stopped (pid {proc.pid})" in r.stdout, r.stdout + r.stderr
    assert not env.socket.exists()  # its work was done by the time `stop` returned
    assert proc.wait(10) == 0
    again = env.cli("stop")
    assert again.returncode != 0 and "not running" in again.stderr and "Traceback" not in again.stderr
    assert len(again.stderr.strip().splitlines()) == 1
