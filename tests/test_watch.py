"""Watching with real watchdog observers on real folders."""

import errno

from sp404d.watch import observer as obs
from sp404d.watch.observer import Hints, Watcher
from tests.conftest import wait_until


def drain(hints: Hints) -> list:
    out = []
    while not hints.queue.empty():
        out.append(hints.queue.get_nowait())
    return out


def test_native_observer_hints_are_enqueued_and_junk_is_ignored(tmp_path):
    hints = Hints()
    w = Watcher(hints)
    try:
        root = w.watch(str(tmp_path))
        assert root.observer_kind != "polling"
        (tmp_path / "kick.wav").write_bytes(b"x")
        (tmp_path / ".DS_Store").write_bytes(b"x")
        (tmp_path / "x.wav.part").write_bytes(b"x")
        (tmp_path / "sub").mkdir()
        seen = []
        wait_until(lambda: seen.extend(drain(hints)) or ("dir", str(tmp_path / "sub")) in seen, 5)
        assert ("touch", str(tmp_path / "kick.wav")) in seen
        assert not any(".DS_Store" in h[1] or ".part" in h[1] for h in seen)
    finally:
        w.stop()


def test_inotify_limit_falls_back_to_polling_and_says_which_sysctl(tmp_path, monkeypatch):
    class Exhausted:
        def schedule(self, *a, **k):
            raise OSError(errno.ENOSPC, "inotify watch limit reached")

        def stop(self):
            pass

    monkeypatch.setattr(obs, "Observer", Exhausted)
    hints = Hints()
    w = Watcher(hints, poll_seconds=0.2)
    try:
        root = w.watch(str(tmp_path))
        assert root.observer_kind == "polling"
        assert "fs.inotify.max_user_watches" in root.error
        (tmp_path / "snare.wav").write_bytes(b"x")
        seen = []
        wait_until(lambda: seen.extend(drain(hints)) or ("touch", str(tmp_path / "snare.wav")) in seen, 5)
    finally:
        w.stop()


def test_full_hint_queue_asks_for_a_rescan_instead_of_growing():
    hints = Hints(maxsize=2)
    for i in range(5):
        hints.offer(("touch", f"/x/{i}.wav"))
    assert hints.depth() == 2 and hints.overflowed.is_set()


def test_polling_daemon_records_a_drop(daemon_env):
    from tests.conftest import DaemonEnv

    env = DaemonEnv(daemon_env.root, observer="polling")
    env.start()
    try:
        from fixtures.audio import hit, write

        write(env.drop / "p.wav", hit(3))
        env.wait_idle(1, timeout=30)
        assert env.status()["roots"][0]["observer"] == "polling"
    finally:
        env.stop()


class _FullIntake:
    """Stands in for the pipeline: it seems to have room, yet takes nothing until the test says so
    (the queue filled between the look and the offer); it records what it was given."""

    def __init__(self):
        self.room = False
        self.taken: list[str] = []
        self.writer = self
        self.commands: list = []

    def has_room(self) -> bool:
        return True

    def offer(self, path: str) -> bool:
        if self.room:
            self.taken.append(path)
        return self.room

    def put(self, command) -> None:  # the writer's side
        self.commands.append(command)


def test_settled_files_wait_counted_while_intake_is_full_and_events_still_apply(tmp_path):
    """The settle loop never blocks on a full intake: settled files wait where status counts them,
    and a file deleted meanwhile is not handed on."""
    from sp404d.library import commands as c
    from sp404d.watch.settle_loop import SettleLoop

    hints, intake = Hints(), _FullIntake()
    loop = SettleLoop(hints, intake, settle_seconds=0.2, on_overflow=lambda: None)
    keep, gone = tmp_path / "keep.wav", tmp_path / "gone.wav"
    for f in (keep, gone):
        f.write_bytes(b"RIFF")
        hints.offer(("touch", str(f)))
    loop.start()
    try:
        wait_until(lambda: len(loop._ready) == 2, 10, what="both files to settle and wait for room")
        assert loop.depth() == 2 and len(loop.settler) == 0
        gone.unlink()
        hints.offer(("delete", str(gone), False))
        wait_until(lambda: loop.depth() == 1, 10, what="the deleted file to leave the waiting files")
        assert any(isinstance(cmd, c.MarkMissing) and cmd.paths == (str(gone),) for cmd in intake.commands)
        intake.room = True
        wait_until(lambda: intake.taken == [str(keep)] and loop.depth() == 0, 10, what="the file to be handed on")
    finally:
        loop.stop()
