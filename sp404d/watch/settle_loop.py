"""The thread between the watchers and intake: it turns hints into work.

- touch: start (or restart) the path's quiet period; released to intake once settled.
- dir:   a folder appeared (created or moved in): walk it, every file gets a quiet period.
- move:  a known file was renamed: update the location, no re-analysis. Unknown: treat dest as new.
- delete: mark the location missing (never delete anything).
Stat calls happen here, never in watchdog's handler thread.

Every file that starts settling here is counted in the open drop (progress.noticed), and each tick
says how many still settle or wait (progress.settling): a drop has its total as soon as its files
arrive, and is done once none of them settles or waits and intake has brought each to an end.
"""

from __future__ import annotations

import os
import queue
import threading
import time
from typing import Callable

from sp404d import logs
from sp404d.intake.pipeline import Pipeline
from sp404d.intake.progress import Progress
from sp404d.library import commands as c
from sp404d.watch.names import is_candidate
from sp404d.watch.observer import Hints
from sp404d.watch.scan import walk
from sp404d.watch.settle import Settler

log = logs.get("settle")
TICK = 0.1
MAX_SETTLING = 20_000  # files waiting here at most (as many as hint events the watcher queues)


def _stamp(path: str) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    except OSError:  # a symlink loop, no permission: "settled" as is, so intake records the failure
        return 0, 0
    return st.st_size, st.st_mtime_ns


class SettleLoop(threading.Thread):
    def __init__(self, hints: Hints, pipeline: Pipeline, settle_seconds: float,
                 on_overflow: Callable[[], None], progress: Progress | None = None):
        super().__init__(name="sp404d-settle", daemon=True)
        self.hints = hints
        self.pipeline = pipeline
        self.writer = pipeline.writer
        self.settler = Settler(settle_seconds)
        self.on_overflow = on_overflow
        self.progress = progress
        self._halt = threading.Event()
        # settled files waiting for room in intake, in order (a dict for O(1) removal); kept apart
        # from the settler so that waiting costs no stat per tick
        self._ready: dict[str, None] = {}

    def depth(self) -> int:
        """Files waiting here: settling, or settled and waiting for room in intake."""
        return len(self.settler) + len(self._ready)

    def stop(self) -> None:
        self._halt.set()
        self.join(timeout=5)

    def run(self) -> None:
        while not self._halt.is_set():
            if self.progress is not None:
                self.progress.settling(self.depth())
            deadline = time.monotonic() + TICK
            if self.depth() >= MAX_SETTLING:
                # intake has been full a long while: read no more events, so the hint queue fills
                # and overflows, which asks for a rescan once there is room (memory stays bounded)
                self._halt.wait(TICK)
                deadline = time.monotonic()
            while (remaining := deadline - time.monotonic()) > 0:
                try:
                    hint = self.hints.queue.get(timeout=remaining)
                except queue.Empty:
                    break
                try:
                    self._handle(hint, time.monotonic())
                except Exception:
                    log.exception("hint failed", hint=repr(hint)[:200])
            drop = self.progress.drop() if self.progress is not None else None
            if self.hints.overflowed.is_set():
                self.hints.overflowed.clear()
                log.warning("too many events at once; a rescan will catch up")
                self.on_overflow()
            # Never block on a full intake: settled files wait in _ready, counted in status, and new
            # events are still read (a delete or rename of a waiting file is still seen). The settler
            # is polled only when nothing settled is waiting.
            if not self.pipeline.has_room():
                continue
            if not self._ready:
                settled, _vanished = self.settler.poll(time.monotonic(), _stamp)
                self._ready.update((path, None) for path, _stamp_ in settled)
            while self._ready and not self._halt.is_set():
                path = next(iter(self._ready))
                if not (self.pipeline.offer(path, drop) if drop else self.pipeline.offer(path)):
                    break
                del self._ready[path]

    def _touch(self, path: str, now: float) -> None:
        """(Re)start the path's quiet period; a file new here is one more of the drop."""
        if path in self._ready:
            del self._ready[path]  # written again while waiting: it settles again
        elif path not in self.settler and self.progress is not None:
            self.progress.noticed()  # at once: a status asked meanwhile has the drop's total right
        self.settler.touch(path, now)

    def _passed_over(self, path: str) -> None:
        if self.progress is not None:
            self.progress.passed_over(path)

    def _unready(self, path: str, is_dir: bool, now: float) -> None:
        """A waiting file (or a folder of them) was written, moved or deleted: back to the settler,
        where the event is handled as for any file still settling."""
        if is_dir:
            prefix = path.rstrip("/") + "/"
            hit = [p for p in self._ready if p.startswith(prefix)]
        else:
            hit = [path] if path in self._ready else []
        for p in hit:
            del self._ready[p]
            self.settler.touch(p, now)

    def _handle(self, hint: tuple, now: float) -> None:
        kind = hint[0]
        if kind in ("move", "delete"):
            self._unready(hint[1], hint[-1], now)
        if kind == "touch":
            self._touch(hint[1], now)
        elif kind == "dir":
            for path, _size, _mtime in walk(hint[1], on_skip=self._passed_over):
                self._touch(path, now)
        elif kind == "other":
            self._passed_over(hint[1])
        elif kind == "move":
            _, src, dest, is_dir = hint
            if is_dir:
                self.settler.rename_under(src, dest, now)
                self.writer.put(c.MoveTree(src, dest))
            elif src in self.settler:  # renamed before it settled: settle the new name
                self.settler.forget(src)
                if is_candidate(dest):
                    self._touch(dest, now)
            elif is_candidate(dest):
                self.writer.put(c.MoveLocation(src, dest))
            else:  # renamed to a name we do not track (e.g. "kick.wav.bak")
                self.writer.put(c.MarkMissing(paths=(src,)))
        elif kind == "delete":
            _, path, is_dir = hint
            if is_dir:
                self.settler.forget_under(path)
                self.writer.put(c.MarkMissing(under=path))
            else:
                self.settler.forget(path)
                self.writer.put(c.MarkMissing(paths=(path,)))
