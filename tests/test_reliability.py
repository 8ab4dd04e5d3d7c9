"""Faults and bad input, with nothing lost (the fast part; tests/bench/soak.py runs the long one):
a malformed corpus, SIGTERM mid-import, the library's disk full, a watched folder deleted and made
again, and abuse of the control socket."""

from __future__ import annotations

import json
import os
import resource
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest

from fixtures import malformed
from fixtures.audio import hit, make_pack, write
from tests.conftest import wait_until


def test_malformed_corpus_is_failed_by_category_and_the_rest_is_recorded(daemon_env, tmp_path):
    env = daemon_env
    env.start()
    expected = malformed.make(env.drop / "bad", files=500, long_hours=3.0)
    good = make_pack(env.drop / "good", 50, seed=8)
    status = env.wait_idle(len(expected) + len(good.files), timeout=240)  # alive, answering, done
    # (a name that is not UTF-8 is stored as the raw bytes)
    failed = {os.fsdecode(p): c for p, c in env.rows("SELECT path, category FROM failure")}
    recorded = {os.fsdecode(p) for (p,) in env.rows("SELECT path FROM location")}
    for path, want in expected.items():
        key = os.fsdecode(path)
        if want == malformed.RECORDED:
            assert key in recorded, f"{path} should be recorded"
        elif "|" in want:
            assert key in recorded or key in failed, path
        elif want == malformed.FAILS:
            assert failed.get(key), f"{path} should have failed"
        else:
            assert failed.get(key) == want, (path, failed.get(key), want)
    assert {str(p) for p in good.files} <= recorded
    assert not any("folder.wav" in p for p in list(recorded) + list(failed))
    assert len(failed) >= 490 and status["failed_by_category"]
    long = json.loads(env.cli("search", "name:three_hours", "--json").stdout)
    assert long["duration"] == pytest.approx(10800) and long["kind"] is not None  # analysed, capped


def test_sigterm_during_a_large_import_exits_quickly_and_a_rerun_finishes(daemon_env, tmp_path):
    env = daemon_env
    make_pack(tmp_path / "Big", 2000, seed=11)
    proc = subprocess.Popen([sys.executable, "-m", "sp404d", "import", str(tmp_path / "Big"), "--json"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env.env)
    wait_until(lambda: env.locations() > 100, 60, what="the import to be under way")
    t = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=30)
    took = time.monotonic() - t
    assert took <= 10, f"SIGTERM took {took:.1f} s"
    assert proc.returncode == 130 and not json.loads(out)["done"]
    assert env.rows("PRAGMA integrity_check") == [("ok",)]
    again = json.loads(env.cli("import", str(tmp_path / "Big"), "--json").stdout)
    assert again["done"] and again["unchanged"] + again["recorded"] == 2000 and again["failed"] == 0
    paths = [p for (p,) in env.rows("SELECT path FROM location")]
    assert len(paths) == len(set(paths)) == 2000


@pytest.mark.skipif(not hasattr(resource, "prlimit"), reason="needs Linux prlimit")
def test_library_disk_full_pauses_intake_and_resumes_without_loss(daemon_env, tmp_path):
    """The daemon may not grow any file past a limit (RLIMIT_FSIZE, set from outside with prlimit):
    to SQLite that is a full disk. Intake pauses, status says why, and when the limit is lifted
    everything dropped meanwhile is recorded."""
    env = daemon_env
    env.start()
    make_pack(env.drop / "before", 40, seed=12)
    env.wait_idle(40)
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.prlimit(env.proc.pid, resource.RLIMIT_FSIZE, (64 << 10, hard))
    try:
        first = make_pack(env.drop / "during", 100, seed=13)
        status = wait_until(lambda: (s := env.status())["state"] == "write-error" and s, 60, interval=0.25,
                            what="the daemon to notice the full disk")
        assert "held in memory, retrying" in status["writer"]["error"]
        analysed = env.status()["counters"]["analysed"]
        more = make_pack(env.drop / "after", 200, seed=14)  # dropped while the disk is full
        time.sleep(3)
        held = env.status()
        assert held["state"] == "write-error"
        assert held["counters"]["analysed"] <= analysed + 16  # intake waits: at most what was in flight
        assert held["queues"]["queued"] + held["queues"]["settling"] > 100
    finally:
        resource.prlimit(env.proc.pid, resource.RLIMIT_FSIZE, (soft, hard))
    status = env.wait_idle(40 + len(first.files) + len(more.files), timeout=120)
    assert status["writer"]["error"] is None and status["totals"]["failed"] == 0
    assert env.rows("PRAGMA integrity_check") == [("ok",)]
    assert env.stop() == 0


def test_a_watched_folder_deleted_and_made_again_is_watched_again(daemon_env):
    env = daemon_env
    env.start()
    write(env.drop / "a.wav", hit(1, 0.2))
    env.wait_idle(1)
    subprocess.run(["rm", "-rf", str(env.drop)], check=True)
    time.sleep(1.0)
    env.drop.mkdir()
    write(env.drop / "b.wav", hit(2, 0.2))  # copied in before the new watch: found by the walk after it
    wait_until(lambda: env.rows(f"SELECT COUNT(*) FROM location WHERE path = '{env.drop / 'b.wav'}'") == [(1,)],
               30, what="a file in the re-made folder to be recorded")
    write(env.drop / "c.wav", hit(3, 0.2))  # and events flow again
    wait_until(lambda: env.rows(f"SELECT COUNT(*) FROM location WHERE path = '{env.drop / 'c.wav'}'") == [(1,)],
               30, what="the watch on the re-made folder")
    assert env.rows(f"SELECT state FROM location WHERE path = '{env.drop / 'a.wav'}'") == [("missing",)]


def test_socket_abuse_leaves_status_answering_within_a_second(daemon_env):
    env = daemon_env
    env.start()
    path = str(env.socket)
    held = []

    def connect() -> socket.socket:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(path)
        return s

    junk = connect()
    junk.sendall(os.urandom(4096) + b"\n")
    huge = connect()
    threading.Thread(target=lambda: _send_quietly(huge, b"x" * (10 << 20)), daemon=True).start()
    half = connect()
    half.sendall(b'{"cmd": "sta')  # then silence
    held += [junk, huge, half]
    for _ in range(200):  # 200 clients at once, some of which subscribe and never read
        try:
            s = connect()
        except OSError:
            continue
        if len(held) % 3 == 0:
            s.sendall(b"subscribe\n")
        held.append(s)
    write(env.drop / "x.wav", hit(4, 0.2))  # events for the subscribers that never read
    for _ in range(5):
        t = time.monotonic()
        assert env.status()["state"] in ("idle", "busy")
        assert time.monotonic() - t < 1.0
        time.sleep(0.2)
    for s in held:
        s.close()
    assert env.cli("status").returncode == 0
    assert env.stop() == 0


def _send_quietly(sock: socket.socket, data: bytes) -> None:
    try:
        sock.sendall(data)
    except OSError:  # the daemon cuts a line over its limit
        pass


def test_runtime_dir_that_others_can_write_is_refused(daemon_env, tmp_path):
    env = daemon_env
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    text = env.config.read_text().replace(str(env.socket), str(shared / "sp404d.sock"))
    env.config.write_text(text)
    r = subprocess.run([sys.executable, "-m", "sp404d", "run"], capture_output=True, text=True, env=env.env,
                       timeout=60)
    assert r.returncode != 0 and "others can write to it" in r.stderr and "Traceback" not in r.stderr
    assert not (shared / "sp404d.sock").exists()


def test_a_full_writer_queue_with_many_copies_does_not_deadlock(tmp_path, monkeypatch):
    """Regression (found by the 10,000-file soak): with the writer's queue full, intake must not
    hold the pipeline lock while it waits to queue a copy, or the writer's on_commit waits for that
    lock forever. A tiny queue and a pack full of byte-identical copies make it happen at once."""
    import functools

    from sp404d import config as config_mod
    from sp404d import engine as engine_mod
    from sp404d.library.writer import Writer

    monkeypatch.setattr(engine_mod, "Writer", functools.partial(Writer, queue_size=4, batch_items=2))
    cfg = config_mod.load(overrides={"library": {"path": str(tmp_path / "lib" / "library.db")},
                                     "analysis": {"workers": 2}, "cards": {"mount_roots": []}})
    pack = make_pack(tmp_path / "Pack", 300, seed=21)
    for i, f in enumerate(pack.files[:100]):  # and a hundred more byte-identical copies
        (tmp_path / "Pack" / "copies").mkdir(exist_ok=True)
        (tmp_path / "Pack" / "copies" / f"c{i}{f.suffix}").write_bytes(f.read_bytes())
    engine = engine_mod.Engine(cfg, "import")
    engine.start()
    try:
        job = engine.scan([str(tmp_path / "Pack")], kind="import")
        assert engine.progress.wait_job(job, 120), f"stuck: {job.as_dict()}"
        assert job.counters["recorded"] == 400
    finally:
        engine.stop()


def test_a_client_waits_out_a_full_listen_backlog_and_names_a_daemon_that_never_accepts(tmp_path):
    """A Unix socket with a full backlog refuses a timed connect at once (EAGAIN); the CI run in
    which 200 clients arrived together showed `status` failing with BlockingIOError."""
    from sp404d.control.client import Client
    from sp404d.errors import Sp404dError

    path = tmp_path / "s.sock"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    server.listen(0)
    filler = []
    for _ in range(8):  # fill the backlog: some of these are refused, which is the point
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.setblocking(False)
        try:
            s.connect(str(path))
            filler.append(s)
        except BlockingIOError:
            s.close()
            break
    else:
        pytest.skip("this kernel never reported a full backlog")

    t = time.monotonic()
    with pytest.raises(Sp404dError, match="not accepting connections"):
        Client(path, timeout=0.5)
    assert 0.4 < time.monotonic() - t < 5

    accepted = []

    def drain():  # the daemon catches up after a moment: the fillers, then the waiting client
        time.sleep(0.3)
        for _ in range(len(filler) + 1):
            accepted.append(server.accept()[0])

    drainer = threading.Thread(target=drain, daemon=True)
    drainer.start()
    c = Client(path, timeout=5)  # waits rather than failing
    drainer.join(timeout=5)
    c.close()
    for s in accepted:
        s.close()
    for s in filler:
        s.close()
    server.close()
