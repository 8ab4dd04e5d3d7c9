"""Counters, jobs and rate: what status reports. Updated from several threads under one lock."""

from __future__ import annotations

import threading
import time
from collections import Counter, deque
from dataclasses import dataclass, field

COUNTER_NAMES = ("seen", "unchanged", "analysed", "recorded", "duplicates", "near_duplicates", "failed", "moved",
                 "missing")


@dataclass
class Job:
    """A unit of work someone waits for: an import, a rescan. Done when its walk has finished and
    every path it handed on has reached an end (recorded, failed, unchanged or vanished)."""

    id: int
    kind: str
    paths: tuple[str, ...]
    started: float = field(default_factory=time.time)
    counters: Counter = field(default_factory=Counter)
    failed_by_category: Counter = field(default_factory=Counter)
    pending: int = 0
    walked: bool = False
    finished: float | None = None

    @property
    def done(self) -> bool:
        return self.finished is not None

    def as_dict(self) -> dict:
        return {"id": self.id, "kind": self.kind, "paths": list(self.paths), "done": self.done,
                "pending": self.pending, "walked": self.walked,
                "elapsed": round((self.finished or time.time()) - self.started, 3),
                **{k: self.counters[k] for k in COUNTER_NAMES},
                "failed_by_category": dict(self.failed_by_category)}


class RateMeter:
    """Files finished per second over the last `window` seconds, measured from a baseline: the
    newest point older than the window (at first, the start with a count of 0)."""

    def __init__(self, window: float = 60.0, start: float | None = None):
        self.window = window
        self._points: deque[tuple[float, int]] = deque([(time.time() if start is None else start, 0)])

    def add(self, now: float, total: int) -> None:
        self._points.append((now, total))
        while len(self._points) > 2 and self._points[1][0] <= now - self.window:
            self._points.popleft()

    def rate(self, now: float) -> float:
        (t0, n0), (t1, n1) = self._points[0], self._points[-1]
        if n1 == n0 or now - t1 > self.window:  # nothing finished in the last window
            return 0.0
        return (n1 - n0) / max(now - t0, 1e-3)


class Progress:
    def __init__(self):
        self.lock = threading.Lock()
        self.counters: Counter = Counter()
        self.failed_by_category: Counter = Counter()
        self.jobs: dict[int, Job] = {}
        self.rate = RateMeter()
        self.last_errors: deque[dict] = deque(maxlen=10)
        self._next_job = 1
        self._changed = threading.Condition(self.lock)

    def new_job(self, kind: str, paths: tuple[str, ...]) -> Job:
        with self.lock:
            job = Job(self._next_job, kind, paths)
            self._next_job += 1
            self.jobs[job.id] = job
            # keep the last 50 finished jobs; a long-running daemon must not grow without bound
            finished = [j for j in self.jobs.values() if j.done]
            for old in finished[:-50]:
                del self.jobs[old.id]
            return job

    def count(self, name: str, job: Job | None, n: int = 1, category: str | None = None) -> None:
        with self.lock:
            self._count(name, job, n, category)

    def _count(self, name, job, n=1, category=None) -> None:
        self.counters[name] += n
        if category:
            self.failed_by_category[category] += n
        if job is not None:
            job.counters[name] += n
            if category:
                job.failed_by_category[category] += n

    def begin(self, job: Job | None, n: int = 1) -> None:
        """`n` paths of `job` are on their way through the pipeline."""
        if job is not None:
            with self.lock:
                job.pending += n

    def end(self, job: Job | None, n: int = 1) -> None:
        if job is not None:
            with self.lock:
                job.pending -= n
                self._maybe_finish(job)

    def walked(self, job: Job) -> None:
        with self.lock:
            job.walked = True
            self._maybe_finish(job)

    def _maybe_finish(self, job: Job) -> None:
        if job.walked and job.pending <= 0 and job.finished is None:
            job.finished = time.time()
            self._changed.notify_all()

    def wait_job(self, job: Job, timeout: float | None = None) -> bool:
        with self.lock:
            return self._changed.wait_for(lambda: job.done, timeout)

    def error(self, path: str, category: str, message: str) -> None:
        with self.lock:
            self.last_errors.append({"time": time.time(), "path": path, "category": category, "message": message})

    def snapshot(self) -> dict:
        now = time.time()
        with self.lock:
            return {"counters": {k: self.counters[k] for k in COUNTER_NAMES},
                    "failed_by_category": dict(self.failed_by_category),
                    "rate_per_second": round(self.rate.rate(now), 2),
                    "last_errors": list(self.last_errors),
                    "jobs": [j.as_dict() for j in self.jobs.values() if not j.done]}
