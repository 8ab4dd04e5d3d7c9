"""sd_notify with the standard library: one datagram to $NOTIFY_SOCKET (systemd Type=notify).
A no-op when not run by systemd."""

from __future__ import annotations

import os
import socket


def notify(*lines: str) -> bool:
    target = os.environ.get("NOTIFY_SOCKET")
    if not target:
        return False
    if target.startswith("@"):  # abstract namespace
        target = "\0" + target[1:]
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
            s.connect(target)
            s.sendall("\n".join(lines).encode())
        return True
    except OSError:
        return False
