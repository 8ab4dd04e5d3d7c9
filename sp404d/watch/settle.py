"""Settling: a path is released only after its size and mtime have been stable for a while.

A "created" event arrives when a copy starts, not when it ends (watchdog #586, #313). This is a
pure state machine: the caller supplies the clock and the stat function, so it is tested without
threads or disks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

Stamp = tuple[int, int]  # (size, mtime_ns)


@dataclass
class _Pending:
    stamp: Stamp | None
    since: float


class Settler:
    def __init__(self, settle_seconds: float):
        self.settle_seconds = settle_seconds
        self._pending: dict[str, _Pending] = {}

    def __len__(self) -> int:
        return len(self._pending)

    def __contains__(self, path: str) -> bool:
        return path in self._pending

    def touch(self, path: str, now: float) -> None:
        """Something happened to `path`: (re)start its quiet period."""
        entry = self._pending.get(path)
        if entry is None:
            self._pending[path] = _Pending(None, now)
        else:
            entry.since = now

    def forget(self, path: str) -> None:
        self._pending.pop(path, None)

    def forget_under(self, folder: str) -> None:
        prefix = folder.rstrip("/") + "/"
        for path in [p for p in self._pending if p.startswith(prefix)]:
            del self._pending[path]

    def rename_under(self, src_dir: str, dest_dir: str, now: float) -> None:
        """A folder was renamed: its pending paths are pending under the new name."""
        src, dest = src_dir.rstrip("/") + "/", dest_dir.rstrip("/") + "/"
        for path in [p for p in self._pending if p.startswith(src)]:
            del self._pending[path]
            self._pending[dest + path[len(src):]] = _Pending(None, now)

    def poll(self, now: float, stat: Callable[[str], Stamp | None]) -> tuple[list[tuple[str, Stamp]], list[str]]:
        """Check every pending path. Returns (settled paths with their stamp, vanished paths).

        `stat` returns (size, mtime_ns) or None when the path is gone. A path settles when its
        stamp is unchanged since the last poll and nothing touched it for settle_seconds.
        """
        settled, vanished = [], []
        for path, entry in list(self._pending.items()):
            stamp = stat(path)
            if stamp is None:
                vanished.append(path)
                del self._pending[path]
            elif stamp != entry.stamp:
                entry.stamp, entry.since = stamp, now
                if self.settle_seconds == 0:
                    settled.append((path, stamp))
                    del self._pending[path]
            elif now - entry.since >= self.settle_seconds:
                settled.append((path, stamp))
                del self._pending[path]
        return settled, vanished
