"""Worker processes for analysis, with per-file timeouts and replacement of crashed workers.

pebble's ProcessPool does the hard part (a hung worker is killed at its deadline, a dead one is
replaced, the pool survives); this wrapper turns every outcome into a plain result dict, so the
caller never sees an exception for a bad file. Workers are spawned, not forked: the daemon has
threads, and forking a threaded process can deadlock the child.
"""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import CancelledError, Future
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Callable

from pebble import ProcessExpired, ProcessPool

from sp404d import logs
from sp404d.analysis import banks, worker
from sp404d.errors import FailureCategory, WorkersFailed

log = logs.get("analysis")


class AnalysisPool:
    def __init__(self, workers: int, timeout_seconds: float, max_bytes: int,
                 function: Callable[..., dict] = worker.analyse, initializer: Callable[[], None] = worker.warm_up):
        self.workers = workers
        self.timeout = timeout_seconds
        self.max_bytes = max_bytes
        self.function = function
        self.crashes = 0
        self.timeouts = 0
        # one BLAS/OpenMP thread per worker: the pool already fills every core, and nested thread
        # pools oversubscribe them (measured: 3x slower on 2 cores). Spawned children inherit this.
        for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
            os.environ.setdefault(var, "1")
        self._initializer = initializer
        self._pool: ProcessPool | None = None  # started by warm(): the daemon's socket answers meanwhile

    def warm(self, timeout: float = 120.0) -> None:
        """Start the workers and block until every one has run its warm-up; raise WorkersFailed,
        with the cause in one line, when they cannot (a file missing from the install, a broken
        numpy). The first start after an install builds librosa's filter banks (about 12 s: librosa
        compiles its numba functions once), in a child, so no long-lived process imports librosa."""
        banks.ensure()
        self._pool = ProcessPool(max_workers=self.workers, initializer=self._initializer,
                                 context=multiprocessing.get_context("spawn"))
        try:
            answers = [f.result(timeout=timeout) for f in [self._pool.schedule(worker.ready) for _ in range(self.workers)]]
        except FutureTimeout:
            raise WorkersFailed(f"analysis workers failed to start: no answer within {timeout:g} s") from None
        except Exception as e:  # a worker that dies while starting (pebble: ProcessExpired)
            raise WorkersFailed(f"analysis workers failed to start: {worker.start_failure(e)}") from e
        errors = [error for _pid, error in answers if error]
        if errors:
            raise WorkersFailed(f"analysis workers failed to start: {errors[0]}")

    def submit(self, path: str, done: Callable[[str, dict | None], None]) -> Future:
        """Analyse `path`; `done(path, result)` is called (on a pool thread) with a result dict,
        or None when the work was cancelled by shutdown."""
        future = self._pool.schedule(self.function, args=(path, self.max_bytes), timeout=self.timeout)
        future.add_done_callback(lambda f: done(path, self._outcome(path, f)))
        return future

    def _outcome(self, path: str, future: Future) -> dict | None:
        try:
            return future.result()
        except FutureTimeout:
            self.timeouts += 1
            log.warning("worker timed out; replaced", path=path, seconds=self.timeout)
            return worker.failure(FailureCategory.TIMEOUT, f"analysis took longer than {self.timeout:g} s")
        except ProcessExpired as e:
            self.crashes += 1
            log.warning("worker died; replaced", path=path, exitcode=e.exitcode)
            return worker.failure(FailureCategory.CRASH, f"the worker process died (exit code {e.exitcode})")
        except CancelledError:  # shutdown: record nothing; the next start's scan finds the file
            return None
        except Exception as e:  # pickling or pool errors: record, never lose the path
            log.exception("analysis failed outside the worker", path=path)
            return worker.failure(FailureCategory.CRASH, f"{type(e).__name__}: {e}")

    def close(self, timeout: float = 10.0) -> None:
        if self._pool is None:
            return
        self._pool.close()
        self._pool.join(timeout=timeout)
        if self._pool.active:
            self._pool.stop()
            self._pool.join(timeout=5)
