"""Intake and collection: the middle of the data path.

    submit/scan -> [intake queue] -> intake thread -> analysis pool -> [done queue] -> collector -> writer

The intake thread decides, per path: unchanged (size, mtime_ns as recorded)? skip without opening.
Empty or too large? record as failed. Byte-identical to a known file? record a new location,
no decode. Otherwise send it to a worker. At most `max_in_flight` files are in the pool at once
(a semaphore): when the writer or the pool is slow, intake waits, and the bounded queues in
front of it fill, so memory stays flat however large the drop.

Every path that enters reaches exactly one end: unchanged, vanished, recorded or failed (the
last two once the writer has committed them). Jobs count those ends to know when they are done.
"""

from __future__ import annotations

import collections
import os
import queue
import stat as stat_mod
import threading
import time
from dataclasses import dataclass

import xxhash

from sp404d import logs
from sp404d.analysis.pool import AnalysisPool
from sp404d.errors import FailureCategory
from sp404d.events import EventBus
from sp404d.intake.progress import Job, Progress
from sp404d.library import commands as c
from sp404d.library import queries
from sp404d.library.dedupe import is_duplicate
from sp404d.library.writer import Writer
from sp404d.watch.scan import walk

log = logs.get("intake")
_STOP = object()


@dataclass(frozen=True)
class Item:
    path: str
    job: Job | None = None
    counted: bool = False  # "seen" already counted by a walk
    force: bool = False    # analyse even if unchanged (re-analysis with a newer analyser)


def hash_bytes(path: str) -> str:
    h = xxhash.xxh3_128()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


class Pipeline:
    def __init__(self, writer: Writer, pool: AnalysisPool, progress: Progress, events: EventBus,
                 max_bytes: int, max_in_flight: int | None = None):
        self.writer = writer
        self.pool = pool
        self.progress = progress
        self.events = events
        self.max_bytes = max_bytes
        self.max_in_flight = max_in_flight or pool.workers * 4
        self.intake_queue: queue.Queue = queue.Queue(maxsize=self.max_in_flight * 8)
        self._slots = threading.BoundedSemaphore(self.max_in_flight)
        self._done: queue.Queue = queue.Queue()  # holds at most max_in_flight: one per slot
        self._lock = threading.Lock()
        self._analysing: dict[str, Item] = {}
        self._leaders: dict[str, list[tuple[Item, c.FileStat]]] = {}  # byte hash -> waiting copies
        self._unwritten_bytes: collections.Counter = collections.Counter()  # sent to writer, not committed
        self._recheck: set[str] = set()
        self._retry: collections.deque[Item] = collections.deque()
        self.paused = threading.Event()
        self._held = 0  # the one path the intake thread has taken and waits with (paused, or a write error)
        self._stopping = threading.Event()
        self._threads = [threading.Thread(target=self._intake_loop, name="sp404d-intake", daemon=True),
                         threading.Thread(target=self._collect_loop, name="sp404d-collector", daemon=True)]

    # -- entry points (any thread) --
    def start(self) -> None:
        for t in self._threads:
            t.start()

    def submit(self, path: str, job: Job | None = None, counted: bool = False, force: bool = False) -> None:
        """Hand a path to intake. Blocks while intake is full (backpressure)."""
        self.progress.begin(job)
        self.intake_queue.put(Item(path, job, counted, force))

    def has_room(self) -> bool:
        return not self.intake_queue.full()

    def offer(self, path: str, job: Job | None = None) -> bool:
        """Hand a path to intake if there is room now (the watcher's files; their drop, if any, has
        counted them as seen); False if not."""
        self.progress.begin(job)  # before the put: intake may end it before put_nowait returns
        try:
            self.intake_queue.put_nowait(Item(path, job, counted=job is not None))
        except queue.Full:
            self.progress.end(job)  # still counted as waiting by the drop, so this cannot finish it
            return False
        return True

    def reanalyse(self, paths: list[str], job: Job) -> None:
        """Analyse these files again although unchanged (their samples are from an older analyser)."""
        for path in paths:
            if self._stopping.is_set():
                return
            self.progress.count("seen", job)
            self.submit(path, job, counted=True, force=True)
        self.progress.walked(job)

    def scan(self, roots: list[str], job: Job, defer=None, recent_seconds: float = 0.0) -> None:
        """Walk `roots` and submit what is new or changed; mark what is gone as missing.
        Unchanged files (same size and mtime_ns) are counted and never opened. With `defer`, a
        file modified within `recent_seconds` may still be being copied: it goes to `defer`
        (the settler) instead, and is submitted once it is quiet."""
        for root in roots:
            root = os.path.abspath(root)
            if os.path.isfile(root):
                self.progress.count("seen", job)
                self.submit(root, job, counted=True)
                continue
            if not os.path.isdir(root):
                log.warning("cannot scan: not a folder", root=root)
                continue
            present, failed = queries.stamps_under(root)
            found: set[str] = set()
            for path, size, mtime_ns in walk(root, on_error=lambda p, e: log.warning("cannot read", path=p, error=str(e)),
                                             on_skip=lambda p: self.progress.skip(job, p)):
                if self._stopping.is_set():
                    return
                found.add(path)
                if defer and time.time_ns() - mtime_ns < recent_seconds * 1e9:
                    defer(path)
                    continue
                self.progress.count("seen", job)
                if present.get(path, failed.get(path)) == (size, mtime_ns):
                    self.progress.count("unchanged", job)
                else:
                    self.submit(path, job, counted=True)
            gone = tuple(p for p in (*present, *failed) if p not in found)
            if gone:
                self.writer.put(c.MarkMissing(paths=gone))
        self.progress.walked(job)

    def depths(self) -> dict:
        return {"queued": self.intake_queue.qsize() + len(self._retry) + self._held, "analysing": len(self._analysing)}

    # -- intake thread --
    def _intake_loop(self) -> None:
        while not self._stopping.is_set():
            try:
                item = self._retry.popleft() if self._retry else self.intake_queue.get(timeout=0.5)
            except queue.Empty:
                continue
            if item is _STOP:
                return
            # paused by the user, or the library cannot be written (disk full): analyse nothing new
            # until the writer has caught up, so results do not pile up in memory
            self._held = 1  # taken from the queue, waiting here: still queued, as status counts it
            while (self.paused.is_set() or self.writer.error) and not self._stopping.is_set():
                self._stopping.wait(0.2)
            self._held = 0
            try:
                self._intake(item)
            except Exception as e:  # never lose a path to a bug: record it
                log.exception("intake error", path=item.path)
                self._fail(item, c.FileStat(item.path, 0, 0), FailureCategory.UNREADABLE, f"intake error: {e}")

    def _intake(self, item: Item) -> None:
        path, job = item.path, item.job
        if not item.counted:
            self.progress.count("seen", job)
        with self._lock:
            if path in self._analysing:  # changed again while analysing: look again afterwards
                self._recheck.add(path)
                self.progress.end(job)
                return
        try:
            st = os.stat(path)
        except FileNotFoundError:  # vanished before we got to it: say so, or a retry would look forever
            self.writer.put(c.MarkMissing(paths=(path,)))
            self.progress.end(job)
            return
        except OSError as e:
            return self._fail(item, c.FileStat(path, 0, 0), FailureCategory.UNREADABLE, e.strerror or str(e))
        fs = c.FileStat(path, st.st_size, st.st_mtime_ns)
        known = None if item.force else queries.known_stamp(path)
        if known and known[1] == (fs.size, fs.mtime_ns):
            self.progress.count("unchanged", job)
            self.progress.end(job)
            return
        if not stat_mod.S_ISREG(st.st_mode):
            return self._fail(item, fs, FailureCategory.UNREADABLE, "not a regular file")
        if fs.size == 0:
            return self._fail(item, fs, FailureCategory.EMPTY, "the file is empty (0 bytes)")
        if fs.size > self.max_bytes:
            return self._fail(item, fs, FailureCategory.TOO_LARGE, f"{fs.size} bytes is over [analysis] max_file_mb")
        try:
            byte_hash = hash_bytes(path)
        except OSError as e:
            return self._fail(item, fs, FailureCategory.UNREADABLE, e.strerror or str(e))
        with self._lock:
            if byte_hash in self._leaders:  # the same bytes are being analysed right now
                self._leaders[byte_hash].append((item, fs))
                return
            copy = not item.force and bool(self._unwritten_bytes[byte_hash] or queries.bytes_known(byte_hash))
            if not copy:
                self._leaders[byte_hash] = []
        if copy:  # put outside the lock: a full writer queue must not stop the writer's own on_commit
            self.writer.put(c.RecordCopy(fs, byte_hash, job))
            return
        while not self._slots.acquire(timeout=0.5):
            if self._stopping.is_set():
                with self._lock:
                    self._leaders.pop(byte_hash, None)
                self.progress.end(job)
                return
        with self._lock:
            self._analysing[path] = item
        self.pool.submit(path, lambda p, result: self._done.put((item, fs, byte_hash, result)))

    def _fail(self, item: Item, fs: c.FileStat, category: FailureCategory, message: str,
              analysis_version: int | None = None) -> None:
        self.progress.error(fs.path, category.value, message)
        self.writer.put(c.RecordFailure(fs, category.value, message, item.job, analysis_version))

    # -- collector thread --
    def _collect_loop(self) -> None:
        while True:
            entry = self._done.get()
            if entry is _STOP:
                return
            item, fs, byte_hash, result = entry
            try:
                self._collect(item, fs, byte_hash, result)
            finally:
                self._slots.release()

    def _collect(self, item: Item, fs: c.FileStat, byte_hash: str, result: dict | None) -> None:
        with self._lock:
            copies = self._leaders.pop(byte_hash, [])
            self._analysing.pop(item.path, None)
            if item.path in self._recheck:
                self._recheck.discard(item.path)
                self._retry.append(Item(item.path))
            if result is not None and result["ok"]:
                self._unwritten_bytes[byte_hash] += 1 + len(copies)
        if result is None:  # cancelled at shutdown: the next start's scan finds these files again
            for copy, _ in [(item, fs), *copies]:
                self.progress.end(copy.job)
            return
        if result["ok"]:
            self.progress.count("analysed", item.job)
            self.writer.put(c.RecordResult(fs, byte_hash, result, item.job))
            for copy, copy_fs in copies:
                self.writer.put(c.RecordCopy(copy_fs, byte_hash, copy.job))
        else:
            category = FailureCategory(result["category"])
            for failed, failed_fs in [(item, fs), *copies]:
                self._fail(failed, failed_fs, category, result["message"], result.get("analysis_version"))
        with self._lock:
            drained = not self._analysing and not self._retry and self.intake_queue.empty()
        if drained:
            self.writer.put(c.Drained())

    # -- called by the writer thread after each commit --
    def on_commit(self, effects: list[tuple]) -> None:
        if not effects:
            return
        recorded = failed = 0
        for effect in effects:
            kind = effect[0]
            if kind == "recorded":
                _, path, match, job, byte_hash = effect
                self.progress.count("recorded", job)
                self.progress.resolved(path)
                if is_duplicate(match):
                    self.progress.count("near_duplicates" if match == "near" else "duplicates", job)
                with self._lock:
                    self._unwritten_bytes[byte_hash] -= 1
                    if self._unwritten_bytes[byte_hash] <= 0:
                        del self._unwritten_bytes[byte_hash]
                self.progress.end(job)
                recorded += 1
            elif kind == "failed":
                _, path, category, job = effect
                self.progress.count("failed", job, category=category)
                self.progress.end(job)
                failed += 1
            elif kind == "moved":
                self.progress.count("moved", None)
            elif kind == "missing":
                self.progress.count("missing", None, effect[1])
            elif kind == "retry":  # a copy whose twin vanished, or a move of an unknown file
                _, path, job = effect
                self._retry.append(Item(path, job, counted=True))
        snap = self.progress.snapshot()
        with self.progress.lock:  # the rate is also resumed under it, when files are seen
            total = self.progress.counters["recorded"] + self.progress.counters["failed"]
            self.progress.rate.add(time.time(), total)
        self.events.publish("progress", recorded=recorded, failed=failed, counters=snap["counters"],
                            jobs=snap["jobs"])

    # -- shutdown --
    def stop(self, drain_seconds: float = 10.0) -> None:
        """Stop taking work; let what is in the pool finish (up to drain_seconds) and be handed
        to the writer. What was still queued is not recorded: the next scan finds it."""
        self._stopping.set()
        if self._threads[0].ident is not None:  # started (a failed start stops it too)
            self._threads[0].join(timeout=drain_seconds)
        deadline = time.monotonic() + drain_seconds
        while self._analysing and time.monotonic() < deadline:
            time.sleep(0.05)

    def stop_collector(self) -> None:
        if self._threads[1].ident is not None:
            self._done.put(_STOP)
            self._threads[1].join(timeout=10)
