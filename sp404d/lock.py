"""The library's single-instance lock: whoever holds it is the library's only writer.

An flock on "<library>.lock", released by the kernel when the holder dies (even by kill -9),
so a crash never leaves a stale lock behind. The file names the holder, for a clear message.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from sp404d.errors import LibraryBusy


class LibraryLock:
    def __init__(self, path: Path):
        self.path = path
        self._fd: int | None = None

    def holder(self) -> dict:
        try:
            return json.loads(self.path.read_text() or "{}")
        except (OSError, ValueError):
            return {}

    def describe_holder(self) -> str:
        h = self.holder()
        return f"sp404d {h.get('role', '?')} (pid {h.get('pid', '?')})"

    def acquire(self, role: str) -> None:
        """Take the lock now or raise LibraryBusy."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise LibraryBusy(f"the library {self.path.with_suffix('')} is in use by {self.describe_holder()}") from None
        os.ftruncate(fd, 0)
        os.write(fd, json.dumps({"pid": os.getpid(), "role": role, "since": time.time()}).encode())
        self._fd = fd

    def wait(self, role: str, should_stop, on_wait) -> bool:
        """Take the lock, waiting while someone else holds it. False if asked to stop first."""
        told = False
        while not should_stop():
            try:
                self.acquire(role)
                return True
            except LibraryBusy as e:
                if not told:
                    on_wait(str(e))
                    told = True
                time.sleep(0.5)
        return False

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


@contextmanager
def held_here(lock_path: Path, socket_path: Path, role: str) -> Iterator[LibraryLock]:
    """For a command that writes the library itself because no daemon answered on its socket: hold
    the lock meanwhile, or say that whoever holds it does not answer either."""
    lock = LibraryLock(lock_path)
    try:
        lock.acquire(role)
    except LibraryBusy as e:
        raise LibraryBusy(f"{e}; its control socket does not answer at {socket_path}") from None
    try:
        yield lock
    finally:
        lock.release()
