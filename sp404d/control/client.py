"""Talking to a running daemon over its socket."""

from __future__ import annotations

import errno
import json
import socket
import time
from pathlib import Path
from typing import Iterator

from sp404d import strictjson
from sp404d.errors import DaemonNotRunning, DaemonRefused, Sp404dError


class Client:
    def __init__(self, path: Path, timeout: float = 10.0):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        try:
            self._connect(timeout)
        except (FileNotFoundError, ConnectionRefusedError):
            self.sock.close()
            raise DaemonNotRunning(f"sp404d is not running (no daemon at {path})") from None
        except OSError:
            self.sock.close()
            raise
        self._reader = self.sock.makefile("rb")

    def _connect(self, timeout: float) -> None:
        # A Unix socket whose listen backlog is full answers a timed (non-blocking) connect
        # with EAGAIN at once rather than waiting; a busy daemon is not a gone one, so wait.
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.sock.connect(str(self.path))
                return
            except BlockingIOError as e:
                if e.errno != errno.EAGAIN or time.monotonic() >= deadline:
                    raise Sp404dError(f"the daemon at {self.path} is not accepting connections") from None
                time.sleep(0.02)

    def close(self) -> None:
        self._reader.close()
        self.sock.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def request(self, cmd: str, **args) -> dict:
        line = strictjson.dumps({"cmd": cmd, **args}) if args else cmd
        self.sock.sendall(line.encode() + b"\n")
        reply = self._read()
        if not reply.get("ok"):
            err = reply.get("error", {})
            raise DaemonRefused(err.get("message", "the daemon refused the request"), err.get("code"), err.get("exit"))
        return reply

    def _read(self) -> dict:
        raw = self._reader.readline()
        if not raw:
            raise Sp404dError("the daemon closed the connection")
        return json.loads(raw)

    def events(self) -> Iterator[dict]:
        """Subscribe now (not at the first next(): nothing published after this call is missed) and
        return the events, until the connection ends."""
        self.request("subscribe")
        self.sock.settimeout(None)
        return self._lines()

    def _lines(self) -> Iterator[dict]:
        while raw := self._reader.readline():
            yield json.loads(raw)


def daemon_running(path: Path) -> bool:
    try:
        Client(path, timeout=2).close()
        return True
    except (DaemonNotRunning, OSError):
        return False
