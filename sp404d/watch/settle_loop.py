"""The thread between the watchers and intake: it turns hints into work.

- touch: start (or restart) the path's quiet period; released to intake once settled.
- dir:   a folder appeared (created or moved in): walk it, every file gets a quiet period.
- move:  a known file was renamed: update the location, no re-analysis. Unknown: treat dest as new.
- delete: mark the location missing (never delete anything).
Stat calls happen here, never in watchdog's handler thread.
"""

from __future__ import annotations

import os
import queue
import threading
import time
from typing import Callable

from sp404d import logs
from sp404d.intake.pipeline import Pipeline
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
                 on_overflow: Callable[[], None]):
        super().__init__(name="sp404d-settle", daemon=True)
        self.hints = hints
        self.pipeline = pipeline
        self.writer = pipeline.writer
        self.settler = Settler(settle_seconds)
        self.on_overflow = on_overflow
        self._halt = threading.Event()

    def depth(self) -> int:
        return len(self.settler)

    def stop(self) -> None:
        self._halt.set()
        self.join(timeout=5)

    def run(self) -> None:
        while not self._halt.is_set():
            deadline = time.monotonic() + TICK
            if len(self.settler) >= MAX_SETTLING:
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
            if self.hints.overflowed.is_set():
                self.hints.overflowed.clear()
                log.warning("too many events at once; a rescan will catch up")
                self.on_overflow()
            # Never block on a full intake: files stay here, counted in status as settling, and new
            # events are still read (a delete or rename of a waiting file is still seen). No polling
            # meanwhile either: that would stat every waiting file each tick for nothing.
            if not self.pipeline.has_room():
                continue
            now = time.monotonic()
            settled, _vanished = self.settler.poll(now, _stamp)
            for i, (path, stamp) in enumerate(settled):
                if self._halt.is_set():
                    return
                if not self.pipeline.offer(path):
                    for rest, rest_stamp in settled[i:]:
                        self.settler.put_back(rest, rest_stamp, now)
                    break

    def _handle(self, hint: tuple, now: float) -> None:
        kind = hint[0]
        if kind == "touch":
            self.settler.touch(hint[1], now)
        elif kind == "dir":
            for path, _size, _mtime in walk(hint[1]):
                self.settler.touch(path, now)
        elif kind == "move":
            _, src, dest, is_dir = hint
            if is_dir:
                self.settler.rename_under(src, dest, now)
                self.writer.put(c.MoveTree(src, dest))
            elif src in self.settler:  # renamed before it settled: settle the new name
                self.settler.forget(src)
                if is_candidate(dest):
                    self.settler.touch(dest, now)
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
