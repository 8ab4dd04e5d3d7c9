"""A card's root, changed only through a descriptor opened when a sync starts.

A pulled card leaves its mount point behind as a plain folder of the computer's own disk; a path
would then lead there, while the descriptor still leads to the card that is gone, so a change fails
(ENOTCONN, EIO) instead of landing on the computer (mkdirat, openat, renameat, unlinkat).
"""

from __future__ import annotations

import errno
import os
import time
from pathlib import Path


class CardRoot:
    def __init__(self, root: Path):
        self.root = Path(root)
        self._device: int | None = None
        self._was_mount = False
        self._fd: int | None = None

    def open(self) -> bool:
        """Open the root's descriptor; False if there is no folder there."""
        try:
            self._fd = os.open(self.root, os.O_RDONLY | os.O_DIRECTORY)
        except OSError:
            return False
        st = os.fstat(self._fd)
        self._device, self._was_mount = st.st_dev, os.path.ismount(self.root)
        return True

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def _guard(self) -> None:
        """Before every change: is this still the card we started on? Cheap, and it stops a sync at
        the first sign of a pull with a clear reason; the descriptor is what makes it safe."""
        try:
            st = os.stat(self.root)
        except OSError:
            st = None
        if st is None or (self._device is not None and st.st_dev != self._device) or \
                (self._was_mount and not os.path.ismount(self.root)):
            raise OSError(errno.ENODEV, "the card was removed")

    def _mkdir(self, rel: str) -> bool:
        """Make a folder; True if it was not there."""
        try:
            os.mkdir(rel, dir_fd=self._fd)
        except FileExistsError:
            return False
        return True

    def _fsync_dir(self, rel: str) -> None:
        fd = os.open(rel, os.O_RDONLY | os.O_DIRECTORY, dir_fd=self._fd)
        try:
            os.fsync(fd)
        except OSError:  # some filesystems refuse fsync on a folder; the rename is still done
            pass
        finally:
            os.close(fd)

    def _write_atomic(self, rel: str, data: bytes, tmp_dir: str) -> None:
        """Write under a temporary name in tmp_dir, fsync, rename to rel, fsync rel's folder."""
        tmp = f"{tmp_dir}/{os.getpid()}-{time.monotonic_ns()}.tmp"
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644, dir_fd=self._fd)
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view):]
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, rel, src_dir_fd=self._fd, dst_dir_fd=self._fd)
        except BaseException:
            try:
                os.unlink(tmp, dir_fd=self._fd)
            except OSError:
                pass
            raise
        self._fsync_dir(os.path.dirname(rel))

    def _unlink(self, rel: str) -> None:
        try:
            os.unlink(rel, dir_fd=self._fd)
        except FileNotFoundError:
            pass

    def _listdir(self, rel: str) -> list[str]:
        fd = os.open(rel, os.O_RDONLY | os.O_DIRECTORY, dir_fd=self._fd)
        try:
            return os.listdir(fd)
        finally:
            os.close(fd)

    def _rename(self, rel: str, to: str) -> None:
        os.rename(rel, to, src_dir_fd=self._fd, dst_dir_fd=self._fd)

    def _rmdir(self, rel: str) -> None:
        os.rmdir(rel, dir_fd=self._fd)

    def _mtime(self, rel: str) -> int:
        return os.stat(rel, dir_fd=self._fd).st_mtime_ns

    def free_bytes(self) -> int | None:
        st = os.fstatvfs(self._fd)
        if st.f_blocks == 0:  # fusefat reports no totals: unknown, rely on ENOSPC
            return None
        return st.f_bavail * st.f_frsize
