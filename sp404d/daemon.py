"""The daemon: an engine, plus watching, the control socket, and the periodic rescan.

Runs in the foreground (no self-forking; systemd or launchd supervise it). Start order:
library lock -> socket -> library and writer -> warm workers -> watchers -> first scan.
SIGTERM or SIGINT stops intake, lets in-flight results be written, and exits; anything not
finished is found again by the next start's scan.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from datetime import datetime, timedelta

from apscheduler.schedulers.background import BackgroundScheduler

from sp404d import __version__, logs
from sp404d.card.monitor import CardMonitor
from sp404d.config import Config
from sp404d.control.bind import is_alive
from sp404d.control.server import ControlServer
from sp404d.engine import Engine
from sp404d.errors import Sp404dError, failure_category
from sp404d.lock import LibraryLock
from sp404d.notify import notify, watchdog_interval
from sp404d.watch.observer import Hints, Watcher
from sp404d.watch.settle_loop import SettleLoop

log = logs.get("daemon")
REANALYSE_EVERY_SECONDS = 30
REANALYSE_FIRST_SECONDS = 3
REANALYSE_BATCH = 200
STATE_TICK = 0.2


class Daemon:
    def __init__(self, config: Config, pool_function=None):
        self.config = config
        self.pool_function = pool_function
        self.stopping = threading.Event()
        self.lock = LibraryLock(config.lock_path)
        self.engine: Engine | None = None
        self.control: ControlServer | None = None
        self.watcher: Watcher | None = None
        self.settle: SettleLoop | None = None
        self.scheduler: BackgroundScheduler | None = None
        self._rescan_pending = threading.Event()
        self._outdated_left = True  # until a look finds no sample or failure from an older analyser
        self.cards: CardMonitor | None = None
        self.ready = threading.Event()  # set once watching and serving; status says "starting" before
        self._state_lock = threading.Lock()
        self._last_state: str | None = None  # the state last told to subscribers

    # -- life cycle --
    def run(self) -> int:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: self.stopping.set())
        if is_alive(self.config.socket_path):
            raise Sp404dError(f"sp404d is already running (socket {self.config.socket_path} answers)")
        def waiting(why: str) -> None:
            log.warning("waiting for the library lock", reason=why)
            notify(f"STATUS=waiting for the library lock: {why}")

        if not self.lock.wait("daemon", self.stopping.is_set, waiting):
            return 0
        try:
            self._start()
            self.ready.set()
            notify("READY=1", f"STATUS=watching {len(self.config.watch_folders)} folder(s)", f"MAINPID={os.getpid()}")
            log.info("ready", version=__version__, pid=os.getpid(), library=str(self.config.library_path))
            while not self.stopping.wait(0.5):
                pass
            log.info("stopping")
            notify("STOPPING=1")
        finally:
            self._shutdown()
            self.lock.release()
        log.info("stopped")
        return 0

    def _start(self) -> None:
        cfg = self.config
        self.engine = Engine(cfg, "daemon", self.pool_function)
        self.control = ControlServer(cfg.socket_path, self._handlers(), self.engine.events)
        self.control.start()
        self.engine.start()
        self.hints = hints = Hints()
        self.watcher = Watcher(hints, cfg.observer, cfg.poll_seconds)
        self.settle = SettleLoop(hints, self.engine.pipeline, cfg.settle_seconds, self.request_rescan,
                                 self.engine.progress)
        self.settle.start()
        for folder in cfg.watch_folders:
            folder.mkdir(parents=True, exist_ok=True)
            self.watcher.watch(str(folder))
        self.engine.scan(self._roots(), kind="startup-scan", defer=self._defer)
        self.cards = CardMonitor(cfg, self.engine, on_state=self.report_state)
        self.cards.start()
        self.scheduler = BackgroundScheduler(daemon=True)
        if cfg.rescan_minutes > 0:
            self.scheduler.add_job(self.rescan, "interval", minutes=cfg.rescan_minutes, id="rescan",
                                   max_instances=1, coalesce=True)
        self.scheduler.add_job(self._rescan_if_requested, "interval", seconds=5, id="overflow-rescan",
                               max_instances=1, coalesce=True)
        # first soon after the start: a library from an older analyser starts catching up once idle
        self.scheduler.add_job(self._reanalyse_when_idle, "interval", seconds=REANALYSE_EVERY_SECONDS,
                               id="reanalyse", max_instances=1, coalesce=True,
                               next_run_time=datetime.now() + timedelta(seconds=REANALYSE_FIRST_SECONDS))
        self.scheduler.add_job(self._notify_status, "interval", seconds=5, id="notify-status",
                               max_instances=1, coalesce=True)
        self.scheduler.add_job(self._renew_watches, "interval", seconds=2, id="renew-watches",
                               max_instances=1, coalesce=True)
        interval = watchdog_interval()
        if interval:
            self.scheduler.add_job(self._watchdog, "interval", seconds=interval, id="watchdog",
                                   max_instances=1, coalesce=True, next_run_time=datetime.now())
        self.scheduler.start()
        threading.Thread(target=self._report_states, name="sp404d-state", daemon=True).start()

    def _renew_watches(self) -> None:
        renewed = self.watcher.renew()
        if renewed:  # what was copied in before the new watch started is found by a walk
            self.engine.scan(renewed, kind="rescan", defer=self._defer)

    # -- systemd --
    def _watchdog(self) -> None:
        """WATCHDOG=1 only while the parts that do the work are alive: a stuck daemon gets restarted."""
        if self.engine.writer.is_alive() and self.control.alive():
            notify("WATCHDOG=1")
        else:
            log.error("a core thread died; withholding the watchdog ping so the service manager restarts us")

    def _notify_status(self) -> None:
        s = self.engine.progress.snapshot()["counters"]
        notify(f"STATUS={self.state()}: {s['recorded']} recorded, {s['failed']} failed since start")

    # -- state --
    def state(self) -> str:
        """starting, stopping, write-error, card-syncing, paused, busy or idle."""
        if self.stopping.is_set():
            return "stopping"
        if not self.ready.is_set():
            return "starting"
        state = self.engine.state()
        if state == "write-error":
            return state
        if self.cards is not None and self.cards.syncing():
            return "card-syncing"
        return state

    def report_state(self) -> str:
        """Publish a `state` event if the state changed since the last one. Called 5 times a second
        (a follower shows a change within a second), and at once by what changes it (pause,
        resume, a card sync starting or ending), so even a short state is told."""
        with self._state_lock:
            state = self.state()
            if state != self._last_state:
                self._last_state = state
                self.engine.events.publish("state", state=state)
            return state

    def _report_states(self) -> None:
        """Until the daemon stops; the last state told is "stopping"."""
        while True:
            try:
                if self.report_state() == "stopping":
                    return
            except Exception:  # a state that cannot be read now is read again at the next tick
                log.exception("reading the state failed")
            self.stopping.wait(STATE_TICK)

    def _shutdown(self) -> None:
        """Each part stops on its own, so one that fails (or never started) neither hides the
        error that brought us here nor leaves the socket behind."""
        steps = [
            ("scheduler", lambda: self.scheduler and self.scheduler.running and self.scheduler.shutdown(wait=False)),
            ("watcher", lambda: self.watcher and self.watcher.stop()),
            ("settle", lambda: self.settle and self.settle.stop()),
            ("cards", lambda: self.cards and self.cards.stop()),
            ("engine", self._stop_engine),
            ("control", lambda: self.control and self.control.stop()),
        ]
        for name, step in steps:
            try:
                step()
            except Exception:
                log.exception("could not stop cleanly", part=name)

    def _stop_engine(self) -> None:
        if self.engine and self.engine.writer.ident is not None:  # started (the socket can fail first)
            self.engine.stop()
        elif self.engine:
            self.engine.db.close()

    def _roots(self) -> list[str]:
        return [str(f) for f in self.config.watch_folders]

    # -- rescans --
    def rescan(self):
        return self.engine.scan(self._roots(), kind="rescan", defer=self._defer)

    def _defer(self, path: str) -> None:
        self.hints.offer(("touch", path))

    def request_rescan(self) -> None:
        self._rescan_pending.set()

    def _rescan_if_requested(self) -> None:
        if self._rescan_pending.is_set():
            self._rescan_pending.clear()
            self.rescan()

    def _reanalyse_when_idle(self) -> None:
        """Low priority: only when nothing else is pending, a batch at a time, so new drops
        are never kept waiting behind a library-wide re-analysis."""
        if not self._outdated_left or self.engine.state() != "idle":
            return
        from sp404d.analysis.worker import ANALYSIS_VERSION
        from sp404d.library import queries

        with self.engine.db.connection_context():
            roots = self._roots()
            left = queries.outdated(ANALYSIS_VERSION, roots, 1) or queries.outdated_failures(ANALYSIS_VERSION, roots, 1)
        if not left:
            # everything is current, and what arrives from now on is analysed by this version: no
            # more looking (nor an empty job every REANALYSE_EVERY_SECONDS for a follower to see)
            self._outdated_left = False
            return
        self.engine.reanalyse(roots, limit=REANALYSE_BATCH, kind="background-reanalyse")

    # -- control commands --
    def _handlers(self) -> dict:
        def connected(fn):
            def handler(args: dict) -> dict:
                with self.engine.db.connection_context():
                    return fn(args)
            return handler

        return {
            "ping": lambda a: {"pong": True},
            "version": lambda a: {"version": __version__},
            "status": connected(lambda a: self.status(totals=a.get("totals") is not False)),
            "stop": lambda a: self._stop(),
            "pause": lambda a: self._pause(True),
            "resume": lambda a: self._pause(False),
            "rescan": lambda a: {"job": self.rescan().as_dict()},
            "import": lambda a: {"job": self._import(a).as_dict()},
            "retry": lambda a: {"job": self.engine.retry(self._paths(a, required=False),
                                                         failure_category(a.get("category"))).as_dict()},
            "reanalyse": lambda a: {"job": self.engine.reanalyse(self._paths(a, required=False)).as_dict()},
            "job": lambda a: {"job": self._job(a).as_dict()},
            "kit-edit": connected(self._kit_edit),
            "similar": connected(self._similar),
            "sync": self._sync,
        }

    def _sync(self, args: dict) -> dict:
        from sp404d.card.detect import sync_targets

        targets = sync_targets(args.get("card"),
                               lambda: [c["path"] for c in self.cards.status() if c["role"] == "card" and c["mounted"]],
                               self.config.mount_roots)
        return {"reports": [self.cards.sync(t, bool(args.get("dry_run"))) for t in targets]}

    def _similar(self, args: dict) -> dict:
        """`sp404d similar` from the index the writer keeps current (no library-wide read per ask)."""
        from sp404d.kits.like import similar

        if not self.engine.similar.ready.wait(30):
            raise Sp404dError("the similarity index is still being read from the library; ask again in a moment")
        return similar(args.get("ref"), args.get("limit", 20), args.get("aspect", "all"), self.engine.similar,
                       any_kind=args.get("any_kind", False))

    def _kit_edit(self, args: dict) -> dict:
        from sp404d.kits.edit import command

        cmd = command(self.config.kits, args)
        self.engine.writer.put(cmd)
        return {"kit": cmd.name, "id": cmd.reply.wait(30), "filled": list(cmd.report)}

    def _stop(self) -> dict:
        """As SIGTERM: files in flight are finished or left for the next start, then it exits."""
        log.info("asked to stop over the socket")
        self.stopping.set()
        return {"state": "stopping", "pid": os.getpid()}

    def _pause(self, paused: bool) -> dict:
        if paused:
            self.engine.progress.pause()
        elif self.engine.pipeline.paused.is_set():
            self.engine.progress.unpause()  # the pause is no job's time, and the rate counts from the resume
        (self.engine.pipeline.paused.set if paused else self.engine.pipeline.paused.clear)()
        log.info("paused" if paused else "resumed")
        return {"state": self.report_state()}

    def _paths(self, args: dict, required: bool = True) -> list[str] | None:
        paths = args.get("paths")
        if not paths and not required:
            return None
        if not isinstance(paths, list) or not paths or not all(isinstance(p, str) for p in paths):
            raise Sp404dError('"paths" must be a list of path strings')
        missing = [p for p in paths if not os.path.exists(p)]
        if missing:
            raise Sp404dError(f"no such file or folder: {missing[0]}")
        return [os.path.abspath(p) for p in paths]

    def _import(self, args: dict):
        return self.engine.scan(self._paths(args), kind="import")

    def _job(self, args: dict):
        job = self.engine.progress.jobs.get(args.get("id"))
        if job is None:
            raise Sp404dError(f"no job {args.get('id')!r}")
        return job

    def status(self, totals: bool = True) -> dict:
        s = self.engine.status(totals)
        s["state"] = self.state()
        s["version"] = __version__
        s["pid"] = os.getpid()
        s["socket"] = str(self.config.socket_path)
        s["queues"] = {"settling": self.settle.depth() if self.settle else 0, **s["queues"]}
        s["roots"] = [{"path": r.path, "observer": r.observer_kind, "exists": os.path.isdir(r.path),
                       "fallback_reason": r.error} for r in (self.watcher.roots.values() if self.watcher else [])]
        s["cards"] = self.cards.status() if self.cards else []
        s["syncing"] = self.cards.syncing() if self.cards else None
        s["started_at"] = time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(self.engine.started))
        return s

