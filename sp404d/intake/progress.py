"""Counters, jobs and rate: what status reports. Updated from several threads under one lock.

Whoever follows the daemon learns of each job twice: `on_start(job)` when it is made and
`on_finish(job)` when it is done (the engine publishes both as events), so no client has to guess
from an entry that vanished from the status.
"""

from __future__ import annotations

import threading
import time
import os
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Callable

COUNTER_NAMES = ("seen", "unchanged", "analysed", "recorded", "duplicates", "near_duplicates", "failed", "moved",
                 "missing")


@dataclass
class Job:
    """A unit of work someone waits for: an import, a rescan, a drop. Done when its walk has finished
    and every path it handed on has reached an end (recorded, failed, unchanged or vanished).

    A drop is the files that arrive through the watcher, from the first one noticed until all have
    reached an end: its "walk" is the settling, finished while nothing of it is settling (`waiting`).
    `seen` is every path known to belong to the job so far (the total a bar fills against) and
    `seen - pending - waiting` those that have reached their end."""

    id: int
    kind: str
    paths: tuple[str, ...]
    started: float = field(default_factory=time.time)
    counters: Counter = field(default_factory=Counter)
    failed_by_category: Counter = field(default_factory=Counter)
    pending: int = 0
    waiting: int = 0  # a drop's files still settling: seen, not yet handed to intake
    walked: bool = False
    finished: float | None = None
    skipped: Counter = field(default_factory=Counter)  # files that are not audio, by extension
    paused_for: float = 0.0  # seconds the daemon was paused while this job was open: not its work
    passed: set = field(default_factory=set)  # a drop's files that are not audio, each counted once

    @property
    def done(self) -> bool:
        return self.finished is not None

    def as_dict(self) -> dict:
        seen = self.counters["seen"]
        return {"id": self.id, "kind": self.kind, "paths": list(self.paths), "done": self.done,
                "pending": self.pending + self.waiting, "walked": self.walked,
                # a walk's total is known once it has walked; a drop's is what has arrived so far
                "total": seen if self.walked or self.kind == "drop" else None, "completed": max(seen - self.pending - self.waiting, 0),
                "elapsed": round((self.finished or time.time()) - self.started - self.paused_for, 3),
                **{k: self.counters[k] for k in COUNTER_NAMES},
                "failed_by_category": dict(self.failed_by_category),
                "skipped_not_audio": dict(self.skipped.most_common())}


IDLE_SECONDS = 5.0  # nothing finished this long while files are seen: the pipeline was idle


class RateMeter:
    """Files finished per second over the last `window` seconds of work, measured from a baseline:
    the newest point older than the window, or the moment the work arrived (a file seen with
    nothing finished for IDLE_SECONDS, or ever; a new drop; a resume). The start-up, an idle spell
    and a pause are not work, so a drop's rate is its own files over its own time, settling
    included, as the drop's summary line counts it. (It once counted from the daemon's start: a
    46-file drop that took 1.5 s showed 2.2 files/s.)"""

    def __init__(self, window: float = 60.0):
        self.window = window
        self._points: deque[tuple[float, int]] = deque()

    def resume(self, now: float, total: int) -> None:
        """A file was seen; `total` is the count finished so far. After an idle spell (nothing
        finished for IDLE_SECONDS: files go through at 100 a second) or at the first work ever,
        this moment is the new baseline, so that the gap between two drops is not counted."""
        if not self._points or now - self._points[-1][0] > IDLE_SECONDS:
            self.restart(now, total)

    def restart(self, now: float, total: int) -> None:
        """Count from here (after a pause: the paused time is not work)."""
        self._points = deque([(now, total)])

    def add(self, now: float, total: int) -> None:
        if self._points and total == self._points[-1][1]:
            return  # a commit that finished no file (a kit edit, a move): not a point of the rate
        self._points.append((now, total))  # the first one (a finish with nothing seen) is its own baseline
        while len(self._points) > 2 and self._points[1][0] <= now - self.window:
            self._points.popleft()

    def rate(self, now: float) -> float:
        if len(self._points) < 2:
            return 0.0
        (t0, n0), (t1, n1) = self._points[0], self._points[-1]
        if n1 == n0 or now - t1 > self.window:  # nothing finished in the last window
            return 0.0
        return (n1 - n0) / max(t1 - t0, 1e-3)


class Progress:
    def __init__(self, on_start: Callable[[Job], None] | None = None,
                 on_finish: Callable[[Job], None] | None = None):
        self.on_start = on_start or (lambda job: None)
        self.on_finish = on_finish or (lambda job: None)
        self.lock = threading.Lock()
        self.counters: Counter = Counter()
        self.failed_by_category: Counter = Counter()
        self.jobs: dict[int, Job] = {}
        self.rate = RateMeter()
        self._paused_at: float | None = None
        self.last_errors: deque[dict] = deque(maxlen=10)
        self._next_job = 1
        self._changed = threading.Condition(self.lock)
        self._drop: Job | None = None

    def new_job(self, kind: str, paths: tuple[str, ...]) -> Job:
        with self.lock:
            job = self._new_job(kind, paths)
        self.on_start(job)
        return job

    def _new_job(self, kind: str, paths: tuple[str, ...]) -> Job:
        job = Job(self._next_job, kind, paths)
        self._next_job += 1
        self.jobs[job.id] = job
        # keep the last 50 finished jobs; a long-running daemon must not grow without bound
        finished = [j for j in self.jobs.values() if j.done]
        for old in finished[:-50]:
            del self.jobs[old.id]
        return job

    # -- drops: files that arrive through the watcher --
    def noticed(self, n: int = 1) -> Job:
        """`n` files began settling: they belong to the open drop (a new one if none is open)."""
        with self.lock:
            drop, started = self._open_drop()
            if started and not any(not j.done and j.kind != "drop" for j in self.jobs.values()):
                # the previous drop has ended and nothing else runs: this drop's rate is its own
                self.rate.restart(time.time(), self.counters["recorded"] + self.counters["failed"])
            drop.walked = False
            drop.waiting += n
            self._count("seen", drop, n)
        if started:
            self.on_start(drop)
        return drop

    def _open_drop(self) -> tuple[Job, bool]:
        """The open drop, and whether it was opened just now (the caller holds the lock)."""
        started = self._drop is None or self._drop.done
        if started:
            self._drop = self._new_job("drop", ())
        return self._drop, started

    def passed_over(self, path: str) -> None:
        """A file that is not audio arrived: the open drop's summary says so (a drop of only such
        files is a drop too: a .zip of samples dropped in is told, not silently ignored)."""
        with self.lock:
            drop, started = self._open_drop()
            if path in drop.passed:  # created, then written: one file
                return
            drop.passed.add(path)
            drop.skipped[os.path.splitext(path)[1].lower() or "(no extension)"] += 1
        if started:
            self.on_start(drop)

    def settling(self, waiting: int) -> None:
        """The watcher's side says how many files of the open drop still settle or wait for room;
        at 0 the drop is done once every file it handed on has reached its end."""
        with self.lock:
            drop = self._drop
            if drop is None or drop.done:
                return
            drop.waiting = waiting
            drop.walked = waiting == 0
            finished = self._maybe_finish(drop)
        if finished:
            self.on_finish(drop)

    def drop(self) -> Job | None:
        """The open drop, if any."""
        with self.lock:
            return self._drop if self._drop is not None and not self._drop.done else None

    def count(self, name: str, job: Job | None, n: int = 1, category: str | None = None) -> None:
        with self.lock:
            self._count(name, job, n, category)

    def _count(self, name, job, n=1, category=None) -> None:
        self.counters[name] += n
        if name == "seen":
            self.rate.resume(time.time(), self.counters["recorded"] + self.counters["failed"])
        if category:
            self.failed_by_category[category] += n
        if job is not None:
            job.counters[name] += n
            if category:
                job.failed_by_category[category] += n

    def skip(self, job: Job | None, path: str) -> None:
        """A walk passed over a file that is not audio (by its name): the summary says so."""
        if job is not None:
            with self.lock:
                job.skipped[os.path.splitext(path)[1].lower() or "(no extension)"] += 1

    def begin(self, job: Job | None, n: int = 1) -> None:
        """`n` paths of `job` are on their way through the pipeline."""
        if job is not None:
            with self.lock:
                job.pending += n

    def end(self, job: Job | None, n: int = 1) -> None:
        if job is not None:
            with self.lock:
                job.pending -= n
                finished = self._maybe_finish(job)
            if finished:
                self.on_finish(job)

    def walked(self, job: Job) -> None:
        with self.lock:
            job.walked = True
            finished = self._maybe_finish(job)
        if finished:
            self.on_finish(job)

    def _maybe_finish(self, job: Job) -> bool:
        """Under the lock; True when this call finished the job (the caller then calls on_finish,
        outside the lock)."""
        if job.walked and job.pending <= 0 and job.waiting <= 0 and job.finished is None:
            job.finished = time.time()
            self._changed.notify_all()
            return True
        return False

    def wait_job(self, job: Job, timeout: float | None = None) -> bool:
        with self.lock:
            return self._changed.wait_for(lambda: job.done, timeout)

    def error(self, path: str, category: str, message: str) -> None:
        with self.lock:
            self.last_errors.append({"time": time.time(), "path": path, "category": category, "message": message})

    def pause(self) -> None:
        with self.lock:
            self._paused_at = self._paused_at or time.time()

    def unpause(self) -> None:
        """The pause is over: it is no open job's time, and the rate counts from now."""
        with self.lock:
            now = time.time()
            if self._paused_at is not None:
                for job in self.jobs.values():
                    if not job.done:
                        job.paused_for += now - max(self._paused_at, job.started)
                self._paused_at = None
            self.rate.restart(now, self.counters["recorded"] + self.counters["failed"])

    def resolved(self, path: str) -> None:
        """A file that failed earlier was recorded after all (fixed, or read by a newer analyser):
        its error is no longer news."""
        with self.lock:
            if any(e["path"] == path for e in self.last_errors):
                kept = [e for e in self.last_errors if e["path"] != path]
                self.last_errors.clear()
                self.last_errors.extend(kept)

    def snapshot(self) -> dict:
        now = time.time()
        with self.lock:
            return {"counters": {k: self.counters[k] for k in COUNTER_NAMES},
                    "failed_by_category": dict(self.failed_by_category),
                    "rate_per_second": round(self.rate.rate(now), 2),
                    "last_errors": list(self.last_errors),
                    "jobs": [j.as_dict() for j in self.jobs.values() if not j.done]}
