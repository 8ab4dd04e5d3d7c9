"""The control socket server: a thread that accepts, and one thread per client (at most
MAX_CLIENTS at once: a new client past that closes the connection that has been quiet longest, so
a flood of idle connections cannot lock out a real `sp404d status`).

Limits that keep a misbehaving client from hurting the daemon:
- a request line over 64 KiB is refused and the connection closed;
- a client that sends half a line and goes quiet is dropped after IDLE_SECONDS;
- a client that stops reading is dropped when a send blocks for SEND_SECONDS;
- a subscriber that falls behind loses its oldest events (see events.py).
"""

from __future__ import annotations

import select
import socket
import threading
import time
from pathlib import Path
from typing import Callable

from sp404d import logs
from sp404d.control import protocol
from sp404d.control.bind import bind_unix
from sp404d.control.protocol import ProtocolError
from sp404d.errors import ErrorCode, Sp404dError
from sp404d.events import EventBus

log = logs.get("control")
MAX_CLIENTS = 64
IDLE_SECONDS = 30.0
SEND_SECONDS = 5.0

Handler = Callable[[dict], dict]


class ControlServer:
    def __init__(self, path: Path, handlers: dict[str, Handler], events: EventBus):
        self.path = path
        self.handlers = handlers
        self.events = events
        self._sock: socket.socket | None = None
        self._lock = threading.Lock()
        self._active: dict[socket.socket, float] = {}  # connection -> when it last sent or was sent to
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept_loop, name="sp404d-control", daemon=True)

    def start(self) -> None:
        self._sock = bind_unix(self.path)
        self._sock.settimeout(0.5)
        self._thread.start()
        log.info("control socket ready", socket=str(self.path))

    def alive(self) -> bool:
        return self._thread.is_alive()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.ident is not None:  # started (start can fail: a socket folder refused)
            self._thread.join(timeout=5)
        if self._sock is not None:
            self._sock.close()
            try:
                self.path.unlink()
            except FileNotFoundError:
                pass

    def _accept_loop(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except (socket.timeout, BlockingIOError):
                continue
            except OSError:
                if self._stop.is_set():
                    return
                continue
            with self._lock:
                if len(self._active) >= MAX_CLIENTS:
                    quietest = min(self._active, key=self._active.get)
                    del self._active[quietest]
                    try:
                        quietest.shutdown(socket.SHUT_RDWR)  # its thread sees EOF and ends
                    except OSError:
                        pass
                self._active[conn] = time.monotonic()
            threading.Thread(target=self._serve, args=(conn,), name="sp404d-client", daemon=True).start()

    def _touch(self, conn: socket.socket) -> None:
        with self._lock:
            if conn in self._active:
                self._active[conn] = time.monotonic()

    def _serve(self, conn: socket.socket) -> None:
        try:
            conn.settimeout(IDLE_SECONDS)
            buf = b""
            while not self._stop.is_set():
                try:
                    data = conn.recv(65536)
                except (socket.timeout, OSError):
                    return
                if data:
                    buf += data
                    self._touch(conn)
                lines = buf.split(b"\n")
                buf = lines.pop()
                if not data and buf.strip():  # last request without a newline, then EOF
                    lines.append(buf)
                    buf = b""
                for line in lines:
                    if line.strip() and not self._answer(conn, line):
                        return
                if len(buf) > protocol.MAX_LINE:
                    self._send(conn, protocol.error(ErrorCode.LINE_TOO_LONG, f"request over {protocol.MAX_LINE} bytes"))
                    return
                if not data:
                    return
        finally:
            with self._lock:
                self._active.pop(conn, None)
            conn.close()

    def _send(self, conn: socket.socket, payload: bytes) -> bool:
        try:
            conn.settimeout(SEND_SECONDS)
            conn.sendall(payload)
            conn.settimeout(IDLE_SECONDS)
            self._touch(conn)  # a subscriber that reads its events is active
            return True
        except OSError:
            return False

    def _answer(self, conn: socket.socket, line: bytes) -> bool:
        """Reply to one request; False ends the connection."""
        try:
            cmd, args = protocol.parse_request(line)
            if cmd == "subscribe":
                self._subscribe(conn)
                return False
            handler = self.handlers.get(cmd)
            if handler is None:
                raise ProtocolError(ErrorCode.UNKNOWN_COMMAND,
                                    f"unknown command {cmd!r} (known: {', '.join(sorted([*self.handlers, 'subscribe']))})")
            reply = protocol.ok(**handler(args))
        except ProtocolError as e:
            reply = protocol.error(e.code, e.message)
        except Sp404dError as e:
            reply = protocol.error(ErrorCode.BAD_ARGUMENT, str(e), e.exit_code)
        except Exception as e:
            log.exception("control command failed", request=line[:200])
            reply = protocol.error(ErrorCode.INTERNAL, f"{type(e).__name__}: {e}")
        return self._send(conn, reply)

    def _subscribe(self, conn: socket.socket) -> None:
        """Stream events as JSON lines until the client leaves (or stops reading)."""
        sub = self.events.subscribe()
        try:
            if not self._send(conn, protocol.ok(subscribed=True)):
                return
            while not self._stop.is_set():
                event = sub.get(timeout=0.5)
                if event is not None and not self._send(conn, protocol.encode(event)):
                    return
                readable, _, _ = select.select([conn], [], [], 0)
                if readable:
                    try:
                        if not conn.recv(4096):
                            return  # client closed
                    except OSError:
                        return
        finally:
            sub.close()
