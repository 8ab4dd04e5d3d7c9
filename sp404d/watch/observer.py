"""watchdog observers on the drop folders. Handlers only enqueue hints; all I/O happens later.

One observer per root, so a root whose native watch cannot start (inotify's watch or instance
limit: ENOSPC/EMFILE) falls back to polling alone, and status can say which root polls.
"""

from __future__ import annotations

import errno
import os
import queue
import threading
from dataclasses import dataclass

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer
from watchdog.observers.polling import PollingObserver

from sp404d import logs
from sp404d.watch.names import is_candidate, is_litter

log = logs.get("watch")

# A hint is a tuple: ("touch", path) | ("dir", path) | ("move", src, dest, is_dir) | ("delete", path, is_dir)
# | ("other", path): a file created that is not audio (by its name)
Hint = tuple


class Hints:
    """A bounded hint queue. When it is full a hint is dropped and `overflowed` is set, which
    asks for a rescan: the walk finds whatever the dropped hints would have said."""

    def __init__(self, maxsize: int = 20_000):
        self.queue: queue.Queue[Hint] = queue.Queue(maxsize=maxsize)
        self.overflowed = threading.Event()

    def offer(self, hint: Hint) -> None:
        try:
            self.queue.put_nowait(hint)
        except queue.Full:
            self.overflowed.set()

    def depth(self) -> int:
        return self.queue.qsize()


class _Handler(FileSystemEventHandler):
    def __init__(self, hints: Hints):
        self.hints = hints

    def on_any_event(self, event: FileSystemEvent) -> None:  # runs on watchdog's thread: enqueue only
        kind, src, is_dir = event.event_type, str(event.src_path), event.is_directory
        if kind == "moved":
            self.hints.offer(("move", src, str(event.dest_path), is_dir))
        elif kind == "deleted":
            self.hints.offer(("delete", src, is_dir))
        elif kind in ("created", "modified", "closed"):
            if is_dir:
                if kind == "created":
                    self.hints.offer(("dir", src))
            elif is_candidate(src):
                self.hints.offer(("touch", src))
            elif kind == "created" and not is_litter(src):
                self.hints.offer(("other", src))  # not audio: the drop's summary says it was passed over


def _native_kind(observer) -> str:
    name = type(observer).__name__.lower()
    for kind in ("inotify", "fsevents", "kqueue", "windows"):
        if kind in name:
            return kind
    return name


@dataclass
class WatchedRoot:
    path: str
    observer_kind: str
    error: str | None = None
    identity: tuple[int, int] | None = None  # (st_dev, st_ino) of the folder the watch is on


def _identity(path: str) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino


class Watcher:
    def __init__(self, hints: Hints, mode: str = "auto", poll_seconds: float = 2.0):
        self.hints = hints
        self.mode = mode
        self.poll_seconds = poll_seconds
        self.roots: dict[str, WatchedRoot] = {}
        self._observers: dict[str, object] = {}

    def watch(self, root: str) -> WatchedRoot:
        handler = _Handler(self.hints)
        observer = None
        error = None
        if self.mode == "auto":
            try:
                observer = Observer()
                observer.schedule(handler, root, recursive=True)
                observer.start()
            except OSError as e:
                error = _explain(e)
                log.warning("native watch failed; polling this folder instead", root=root, reason=error)
                _stop_quietly(observer)
                observer = None
        if observer is None:
            observer = PollingObserver(timeout=self.poll_seconds)
            observer.schedule(handler, root, recursive=True)
            observer.start()
        kind = "polling" if isinstance(observer, PollingObserver) else _native_kind(observer)
        self._observers[root] = observer
        self.roots[root] = WatchedRoot(root, kind, error, _identity(root))
        log.info("watching", root=root, observer=kind)
        return self.roots[root]

    def renew(self) -> list[str]:
        """Watch again every root that was deleted and made again (or replaced, or remounted): a
        native watch stays on the old folder and would see nothing. Returns the roots renewed, for
        a rescan. A root that is gone for now is left until it comes back."""
        renewed = []
        for root, watched in list(self.roots.items()):
            now = _identity(root)
            if now is None or now == watched.identity:
                continue
            log.warning("watched folder was replaced; watching it again", root=root)
            old = self._observers.pop(root, None)
            _stop_quietly(old)
            self.watch(root)
            renewed.append(root)
        return renewed

    def stop(self) -> None:
        for observer in self._observers.values():
            _stop_quietly(observer)
        for observer in self._observers.values():
            observer.join(timeout=5)
        self._observers.clear()


def _explain(e: OSError) -> str:
    if e.errno == errno.ENOSPC:
        return "inotify watch limit reached: raise fs.inotify.max_user_watches (sysctl -w fs.inotify.max_user_watches=524288)"
    if e.errno == errno.EMFILE:
        return "inotify instance limit reached: raise fs.inotify.max_user_instances (sysctl -w fs.inotify.max_user_instances=1024)"
    return f"{e.strerror or e}"


def _stop_quietly(observer) -> None:
    if observer is None:
        return
    try:
        observer.stop()
    except Exception:  # an observer whose root vanished can fail to unschedule (watchdog #43, #758)
        pass

