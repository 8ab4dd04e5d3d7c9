"""The engine: library, one writer, the worker pool and intake, wired together.

Both the daemon and a stand-alone `sp404d import` run one; the daemon adds watching, the
control socket and the scheduler around it. Whoever runs an engine must hold the library lock.
"""

from __future__ import annotations

import threading
import time

from sp404d import logs
from sp404d.analysis.pool import AnalysisPool
from sp404d.analysis.worker import ANALYSIS_VERSION
from sp404d.config import Config
from sp404d.events import EventBus
from sp404d.intake.pipeline import Pipeline
from sp404d.intake.progress import Job, Progress
from sp404d.library import commands as c
from sp404d.library import queries
from sp404d.library.schema import open_library
from sp404d.library import similar_index
from sp404d.library.similar_index import SimilarIndex
from sp404d.library.writer import Writer

log = logs.get("engine")


class Engine:
    def __init__(self, config: Config, run_kind: str, pool_function=None):
        self.config = config
        self.run_kind = run_kind
        self.started = time.time()
        self.db = open_library(config.library_path)
        self.events = EventBus()
        # each job's start and end reach subscribers as events: a client never guesses from a job
        # that vanished from the status
        self.progress = Progress(
            on_start=lambda job: self.events.publish("started", what="job", job=job.as_dict()),
            on_finish=lambda job: self.events.publish("done", what="job", job=job.as_dict()))
        # the sounds' vectors, kept current by the writer: a daemon answers `similar` from it
        self.similar = SimilarIndex() if run_kind == "daemon" else None
        self.writer = Writer(self.db, similar=self.similar)
        pool_args = {"function": pool_function} if pool_function else {}
        self.pool = AnalysisPool(config.worker_count, config.timeout_seconds, int(config.max_file_mb * 2**20), **pool_args)
        self.pipeline = Pipeline(self.writer, self.pool, self.progress, self.events, self.pool.max_bytes)
        self.writer.on_commit = self.pipeline.on_commit
        self.run_id: int | None = None
        self._scan_lock = threading.Lock()

    def start(self) -> None:
        similar_index.publish(self.similar)  # None outside a daemon: readers load their own
        self.writer.start()
        t = time.perf_counter()
        self.pool.warm()  # raises WorkersFailed; whoever started us calls stop(), which copes
        log.info("workers ready", workers=self.pool.workers, seconds=round(time.perf_counter() - t, 2))
        self.pipeline.start()
        reply = c.Reply()
        self.writer.put(c.StartRun(self.run_kind, reply))
        self.run_id = reply.wait(60)

    def scan(self, paths: list[str], kind: str = "scan", wait: bool = False, defer=None) -> Job:
        """Walk `paths` in a background thread (one walk at a time) and return its job.
        `defer(path)` takes files modified in the last few seconds (see Pipeline.scan)."""
        job = self._background(kind, paths, lambda job: self.pipeline.scan(
            list(paths), job, defer, recent_seconds=self.config.settle_seconds + 2))
        if wait:
            self.progress.wait_job(job)
        return job

    def reanalyse(self, roots: list[str] | None = None, limit: int | None = None, kind: str = "reanalyse") -> Job:
        """Re-analyse, in a background thread, samples recorded by an older analyser."""

        def work(job: Job) -> None:
            paths = queries.outdated(ANALYSIS_VERSION, roots, limit)
            if limit is None or len(paths) < limit:
                retry = queries.outdated_failures(ANALYSIS_VERSION, roots, limit and limit - len(paths))
                if retry:
                    log.info("retrying files an older analyser could not decode", files=len(retry))
                paths += retry
            if paths:
                log.info("re-analysing samples from an older analyser", files=len(paths))
            self.pipeline.reanalyse(paths, job)

        return self._background(kind, roots or (), work)

    def retry(self, roots: list[str] | None = None, category: str | None = None) -> Job:
        """Analyse failed files again (all, or those under `roots`, or of one failure `category`),
        changed or not."""
        from sp404d.library.models import Failure

        def work(job: Job) -> None:
            where = None if category is None else Failure.category == category
            self.pipeline.reanalyse(queries.failed_paths(roots, where=where), job)

        return self._background("retry", roots or (), work)

    def _background(self, kind: str, paths, work) -> Job:
        """Run `work(job)` in its own thread, one walk at a time, on its own DB connection. A job
        whose walk fails is still closed, so nobody waits on it forever."""
        job = self.progress.new_job(kind, tuple(paths))

        def run() -> None:
            with self._scan_lock, self.db.connection_context():
                try:
                    work(job)
                except Exception:
                    log.exception("background job failed", kind=kind, paths=list(paths))
                    self.progress.walked(job)

        threading.Thread(target=run, name=f"sp404d-{kind}-{job.id}", daemon=True).start()
        return job

    def state(self) -> str:
        return self._state(self.writer.error)

    def _state(self, write_error: str | None) -> str:
        """`write_error`: the writer's error as the caller read it, so that a status says
        "write-error" and shows the error from one reading (a retry may clear it between two)."""
        busy = any(self.pipeline.depths().values()) or self.writer.depth() or \
            any(not j.done for j in list(self.progress.jobs.values()))  # a copy: jobs change meanwhile
        if write_error:
            return "write-error"
        if self.pipeline.paused.is_set():
            return "paused"
        return "busy" if busy else "idle"

    def status(self, totals: bool = True) -> dict:
        """What the engine is doing; `totals=False` leaves out the library counts (SQL counts that
        take a while on a big library: a follower asking twice a second asks for them less often)."""
        snap = self.progress.snapshot()
        write_error = self.writer.error  # read once: the state and the error shown agree
        depths = {**self.pipeline.depths(), "writing": self.writer.depth()}
        # paused, nothing goes through: no rate, and no time to promise
        rate = 0.0 if self.pipeline.paused.is_set() else snap["rate_per_second"]
        pending = sum(j["pending"] for j in snap["jobs"]) or depths["queued"] + depths["analysing"] + depths["writing"]
        return {
            "state": self._state(write_error),
            "uptime": round(time.time() - self.started, 1),
            "library": str(self.config.library_path),
            "queues": depths,
            "counters": snap["counters"],
            "failed_by_category": snap["failed_by_category"],
            "rate_per_second": rate,
            "eta_seconds": round(pending / rate, 1) if rate > 0 and pending else None,
            "workers": {"count": self.pool.workers, "crashed": self.pool.crashes, "timed_out": self.pool.timeouts},
            "writer": {"transactions": self.writer.transactions, "error": write_error},
            "jobs": snap["jobs"],
            "totals": queries.totals(ANALYSIS_VERSION) if totals else None,
            "last_errors": snap["last_errors"],
        }

    def stop(self) -> None:
        """Stop intake, let in-flight results be written, commit, close."""
        self.pipeline.stop(drain_seconds=min(self.config.timeout_seconds, 8.0))
        self.pool.close(timeout=2.0)
        self.pipeline.stop_collector()
        if self.run_id is not None:
            with self.progress.lock:
                counters = {k: self.progress.counters[k] for k in
                            ("seen", "unchanged", "analysed", "recorded", "duplicates", "failed")}
            self.writer.put(c.FinishRun(self.run_id, counters))
        self.writer.stop(timeout=30)
        similar_index.publish(None)
        self.db.close()
