"""Binding the control socket safely (after supervisor's http.py).

- The folder is created 0700 and must be ours and not writable by others: we never put a
  socket where another user could swap it.
- A socket file already there is probed: if something answers, another daemon runs and we
  refuse; if nothing answers it is stale and is replaced.
- We bind to a temporary name, chmod 0600, then rename into place, so no client ever sees a
  socket with looser permissions.
"""

from __future__ import annotations

import os
import socket
import stat
from pathlib import Path

from sp404d.errors import Sp404dError


def secure_dir(folder: Path) -> None:
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    st = folder.stat()
    if st.st_uid != os.getuid():
        raise Sp404dError(f"refusing to use {folder} for the socket: it belongs to another user")
    if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise Sp404dError(f"refusing to use {folder} for the socket: others can write to it (chmod 700 it or choose another [control] socket)")


def is_alive(path: Path, timeout: float = 1.0) -> bool:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect(str(path))
        return True
    except OSError:
        return False
    finally:
        s.close()


def bind_unix(path: Path, backlog: int = socket.SOMAXCONN) -> socket.socket:
    if len(os.fsencode(str(path))) > 100:
        raise Sp404dError(f"socket path is too long for a Unix socket ({len(str(path))} chars): {path}")
    secure_dir(path.parent)
    if path.exists() or path.is_symlink():
        if not stat.S_ISSOCK(path.lstat().st_mode):
            raise Sp404dError(f"{path} exists and is not a socket; not touching it")
        if is_alive(path):
            raise Sp404dError(f"another sp404d is already serving {path}")
        path.unlink()  # stale: its daemon is gone
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    if tmp.exists():
        tmp.unlink()
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.bind(str(tmp))
        os.chmod(tmp, 0o600)
        sock.listen(backlog)
        os.rename(tmp, path)
    except BaseException:
        sock.close()
        tmp.unlink(missing_ok=True)
        raise
    return sock
