"""Following the daemon: `status --follow` (live on a terminal, JSON lines otherwise) and the
progress of one job (`import`, `failures --retry`).

A follower keeps two connections: one subscribed to the daemon's events, read by a thread into a
queue, and one to ask for the status twice a second. The events make the display prompt (a state
change, a job done); the status keeps it whole (queues, totals, every open job). When the daemon
goes away the follower says so, keeps trying, and says so again when it is back: it never ends by
itself, only on Ctrl-C.
"""

from __future__ import annotations

import queue
import socket
import sys
import threading
import time
from pathlib import Path
from typing import Callable

from sp404d import strictjson
from sp404d.control.client import Client
from sp404d.errors import DaemonNotRunning, Sp404dError

POLL_SECONDS = 0.5   # status asked this often: the state shown is never older than this
TOTALS_SECONDS = 3.0  # the library's counts (slow SQL on a big library) at most this often, and after a job
RETRY_SECONDS = 0.5  # a daemon that went away is looked for this often
_LOST = object()


class Link:
    """The two connections to one daemon. Raises DaemonNotRunning when there is none."""

    def __init__(self, path: Path):
        self.ask = Client(path, timeout=10)
        try:
            self.listen = Client(path, timeout=10)
            events = self.listen.events()  # subscribed before the first status: no event falls between
        except BaseException:
            self.ask.close()
            raise
        self.events: queue.Queue = queue.Queue()
        self.why = "the connection ended"
        threading.Thread(target=self._read, args=(events,), name="sp404d-follow", daemon=True).start()

    def _read(self, events) -> None:
        try:
            for event in events:
                self.events.put(event)
        except (OSError, ValueError) as e:  # ValueError: a torn line, or the file closed under us
            self.why = str(e) or type(e).__name__
        self.events.put(_LOST)

    def status(self, totals: bool = True) -> dict:
        s = self.ask.request("status") if totals else self.ask.request("status", totals=False)
        s.pop("ok", None)
        return s

    def next_event(self, timeout: float) -> dict | None:
        """The next event, None if none came in `timeout`; raises ConnectionError once the events end."""
        try:
            event = self.events.get(timeout=max(timeout, 0))
        except queue.Empty:
            return None
        if event is _LOST:
            raise ConnectionError(self.why)
        return event

    def close(self) -> None:
        for client in (self.ask, self.listen):
            try:
                client.sock.shutdown(socket.SHUT_RDWR)  # wakes the reader thread
            except OSError:
                pass
            client.close()


def _connect(path: Path) -> tuple[Link | None, str]:
    try:
        return Link(path), ""
    except DaemonNotRunning:
        return None, "no daemon answers"
    except (OSError, Sp404dError) as e:
        return None, str(e)


def follow_status(path: Path, json_out: bool) -> int:
    """Until Ctrl-C (then the caller exits 130)."""
    if json_out or not sys.stdout.isatty():
        return _stream_json(path)
    return _live(path)


def _stream_json(path: Path) -> int:
    """One JSON object a line: {"event": "status", ...} on connecting, then the daemon's events as
    they come, {"event": "disconnected", ...} when it goes away (and "status" again when it is back)."""
    def emit(obj: dict) -> None:
        print(strictjson.dumps(obj), flush=True)

    said_gone = False
    while True:
        link, why = _connect(path)
        if link is None:
            if not said_gone:
                emit({"event": "disconnected", "time": round(time.time(), 3), "reason": why})
                said_gone = True
            time.sleep(RETRY_SECONDS)
            continue
        said_gone = False
        try:
            emit({"event": "status", **link.status()})
            while True:
                event = link.next_event(3600)
                if event is not None:
                    emit(event)
        except (ConnectionError, OSError, Sp404dError) as e:
            emit({"event": "disconnected", "time": round(time.time(), 3), "reason": str(e)})
            said_gone = True
        finally:
            link.close()


def _live(path: Path) -> int:
    from sp404d.status_view import Board, View, state_line

    view = View()
    with Board() as board:
        def show(lines: list[str]) -> None:
            for line in lines:
                board.say(line)
            board.set_state(*state_line(view.status, str(path)))
            board.show_jobs(view.jobs)

        link = None
        counted = 0.0  # when the library's counts were last asked for
        while True:
            if link is None:
                link, why = _connect(path)
                if link is None:
                    show(view.lost(why))
                    time.sleep(RETRY_SECONDS)
                    continue
            try:
                if not view.status:
                    show(view.connected(link.status()))
                    counted = time.monotonic()
                next_poll = time.monotonic() + POLL_SECONDS
                while (left := next_poll - time.monotonic()) > 0:
                    event = link.next_event(left)
                    if event is not None:
                        show(view.on_event(event))
                        if event["event"] in ("done", "state"):
                            counted = 0.0  # the counts may have changed: ask for them now
                            break  # a status asked before this event came may be older than it: ask again
                count = time.monotonic() - counted >= TOTALS_SECONDS
                show(view.on_status(link.status(totals=count)))
                if count:
                    counted = time.monotonic()
            except (ConnectionError, OSError, Sp404dError) as e:
                link.close()
                link = None
                show(view.lost(str(e)))


def follow_job(get_job: Callable[[], dict], json_out: bool = False, stop: Callable[[], bool] = lambda: False) -> dict:
    """Show one job's progress until it is done (or `stop()`): a bar on a terminal's stderr, a
    plain line every 2 s otherwise, nothing with --json. Returns the job as last seen."""
    if sys.stderr.isatty() and not json_out:
        from rich.console import Console

        from sp404d.status_view import Board

        with Board(Console(stderr=True), transient=True) as board:
            while True:
                job = get_job()
                board.show_jobs({} if job["done"] else {job["id"]: job})
                if job["done"] or stop():
                    return job
                time.sleep(0.2)
    last_line = time.monotonic()
    while True:
        job = get_job()
        if job["done"] or stop():
            return job
        if not json_out and time.monotonic() - last_line >= 2.0:
            last_line = time.monotonic()
            of = f" of {job['total']}" if job["total"] is not None else " (still counting)"
            print(f"working: {job['completed']}{of} so far: recorded {job['recorded']}, unchanged {job['unchanged']}, "
                  f"failed {job['failed']}", file=sys.stderr, flush=True)
        time.sleep(0.2)
