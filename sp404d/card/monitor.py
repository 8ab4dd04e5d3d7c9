"""The daemon's eye on mounted volumes: when an SP-404MKII card appears, ingest what the device
exported and write the kits to it; when a volume named in ingest_labels appears, ingest it.

The mount roots are watched (not recursively) and also checked every `poll_seconds`: an event only
says "look now", and a mount point is often created a moment before the volume is mounted on it.
While a card stays mounted, the kits follow the library: once the library has changed since the
card's last sync (the writer committed) and the daemon is idle again, the kits are resolved again,
and the card is synced if any pad's sound or name changed.

Each sync is announced to subscribers: a `started` event (what="card-sync") when it begins writing
and a `done` event with its report when it ends; while one runs the daemon's state is card-syncing.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

from watchdog.events import FileSystemEventHandler
from watchdog.observers import Observer

from sp404d import logs
from sp404d.card import detect
from sp404d.card.sync import Card, CardError, wants_for
from sp404d.kits import resolve
from sp404d.library import commands as c

log = logs.get("cards")


class _Wake(FileSystemEventHandler):
    """Only signals, and notes mount points made or removed: a card pulled and plugged in again
    between two checks looks the same to stat (device numbers and mount ids are reused)."""

    def __init__(self, event: threading.Event, replugged: set, lock: threading.Lock):
        self.event, self.replugged, self.lock = event, replugged, lock

    def on_any_event(self, event) -> None:
        if event.event_type in ("created", "deleted", "moved"):
            with self.lock:
                self.replugged.add(os.fsdecode(event.src_path))
        self.event.set()


class CardMonitor:
    def __init__(self, config, engine, on_state=lambda: None):
        self.config = config
        self.engine = engine
        self.on_state = on_state  # told when a sync starts and ends: the daemon's state changes
        self.cards: dict[str, dict] = {}      # mount path -> what status shows
        self._mounted: dict[str, int] = {}    # mount path -> st_dev, to notice a remount
        self._synced_at: dict[str, int] = {}  # mount path -> the writer's commit count its last sync saw
        self._synced_pads: dict[str, tuple | None] = {}  # mount path -> the pads its last good sync wrote
        self._lock = threading.Lock()
        self._sync_lock = threading.Lock()    # one sync at a time
        self._syncing: str | None = None      # the card being synced now
        self._wake = threading.Event()
        self._replugged: set[str] = set()       # mount points created or removed since the last check
        self._stop = threading.Event()
        self._observer = None
        self._thread = threading.Thread(target=self._run, name="sp404d-cards", daemon=True)

    def start(self) -> None:
        self._observer = Observer()
        for root in self.config.mount_roots:
            if Path(root).is_dir():
                try:
                    self._observer.schedule(_Wake(self._wake, self._replugged, self._lock), str(root),
                                            recursive=False)
                except OSError as e:  # inotify limits: polling still finds the card
                    log.warning("cannot watch mount root; polling it", root=str(root), error=str(e))
        self._observer.start()
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._observer:
            self._observer.stop()
        self._thread.join(timeout=30)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.check()
            except Exception:  # a strange volume must not end card handling
                log.exception("checking mounted volumes failed")
            self._wake.wait(self.config.card_poll_seconds)
            self._wake.clear()

    def check(self) -> None:
        with self._lock:
            replugged, self._replugged = self._replugged, set()
        for path in replugged:  # whatever is mounted there now is a new mounting
            self._mounted.pop(path, None)
        volumes = detect.mounted(self.config.mount_roots, self.config.card_labels, self.config.ingest_labels)
        now = {str(v.path): v for v in volumes}
        for path in list(self._mounted):
            if path not in now:
                del self._mounted[path]
                self._synced_at.pop(path, None)
                self._synced_pads.pop(path, None)
                with self._lock:
                    if path in self.cards:
                        self.cards[path]["mounted"] = False
                log.info("volume gone", path=path)
        for path, volume in now.items():
            try:
                identity = os.stat(path).st_dev  # (a quick re-plug can reuse it: see _Wake)
            except OSError:
                continue
            if self._mounted.get(path) == identity:
                continue
            self._mounted[path] = identity
            log.info("volume mounted", path=path, label=volume.label, role=volume.role)
            with self._lock:
                self.cards[path] = {"path": path, "label": volume.label, "role": volume.role, "mounted": True,
                                    "seen_at": time.time(), "last_sync": None, "ingest_job": None}
            job = self._ingest(volume)
            if volume.role == "card":
                # what the device exported is in the library before the kits are chosen ("NEW")
                while job is not None and not self._stop.is_set():
                    if self.engine.progress.wait_job(job, 1.0):
                        break
                self.sync(path)
        self._follow_library()

    def _follow_library(self) -> None:
        """Sync a mounted card again when the library changed since its last sync, once the daemon
        is idle (not after every file of a big drop)."""
        commits = self.engine.writer.transactions
        stale = [path for path, seen in list(self._synced_at.items()) if seen != commits and path in self._mounted]
        if stale and self.engine.state() == "idle":
            for path in stale:
                self.sync(path, only_if_kits_changed=True)

    def _ingest(self, volume: detect.Volume):
        """Start ingesting what the volume brings; returns the job (None if nothing to ingest)."""
        if volume.role == "card":
            if not self.config.ingest_exports:
                return None
            export = next((volume.path / n for n in os.listdir(volume.path) if n.upper() == "EXPORT"), None)
            if export is None or not export.is_dir():
                return None
            root = export
            paths = [str(export / n) for n in sorted(os.listdir(export)) if n.upper() != "PROJECT"]
        else:
            root, paths = volume.path, [str(volume.path)]
        self.engine.writer.put(c.RegisterSource(volume.label, str(root), "card-export" if volume.role == "card"
                                                else "volume"))
        if not paths:
            return None
        job = self.engine.scan(paths, kind=f"ingest {volume.label}")
        with self._lock:
            self.cards[str(volume.path)]["ingest_job"] = job.id
        return job

    def sync(self, path: str, dry_run: bool = False, only_if_kits_changed: bool = False) -> dict | None:
        """Sync the kits to the card at `path`. With only_if_kits_changed, a library change that
        leaves every pad's sound where it was (a failed file, a re-analysis) does not touch the
        card: reading back every pad file of a slow SD card costs seconds."""
        with self._sync_lock:
            commits = self.engine.writer.transactions  # before the kits are read: a later change syncs again
            with self.engine.db.connection_context():
                kits = resolve.all_pads(self.config.kits)
            pads = tuple((w.rel, w.pcm_hash) for w in wants_for(kits)[0])
            if only_if_kits_changed and self._synced_pads.get(path) == pads:
                self._synced_at[path] = commits
                return None
            if only_if_kits_changed:
                log.info("the kits changed while the card is mounted: syncing again", card=path)
            self._syncing = path
            self.engine.events.publish("started", what="card-sync", card=path, dry_run=dry_run)
            self.on_state()
            report = {"card": path, "error": "internal error (see the daemon's log)", "finished_at": time.time()}
            try:
                try:
                    report = Card(Path(path)).sync(kits, dry_run=dry_run, stop=self._stop.is_set).as_dict()
                except (CardError, OSError) as e:
                    report = {"card": path, "error": str(e), "finished_at": time.time()}
                if not dry_run:
                    self._synced_at[path] = commits
                    self._synced_pads[path] = None if report.get("error") else pads  # a failed sync is tried again
                    log.info("card synced", card=path, written=report.get("written"), moved=report.get("moved"),
                             removed=report.get("removed"), error=report.get("error"))
                    with self._lock:
                        if path not in self.cards:  # named with `sync --card`: status shows it too, as
                            # "named" (a plain `sync` and the kits' following stay with mounted cards)
                            self.cards[path] = {"path": path, "label": Path(path).name or path, "role": "named",
                                                "mounted": True, "seen_at": time.time(), "last_sync": None,
                                                "ingest_job": None}
                        self.cards[path]["last_sync"] = report
            finally:  # even after a bug: the sync is over, and status already shows its report
                self._syncing = None
                self.engine.events.publish("done", what="card-sync", card=path, dry_run=dry_run, report=report)
                self.on_state()
        return report

    def syncing(self) -> str | None:
        """The card being synced now, if any."""
        return self._syncing

    def status(self) -> list[dict]:
        with self._lock:
            cards = [dict(v) for v in self.cards.values()]
        for card in cards:
            if card["role"] == "named":  # no mount event tells: is the card still there?
                card["mounted"] = _still_a_card(card["path"])
        return cards


def _still_a_card(path: str) -> bool:
    try:
        return detect.is_sp404_card(set(os.listdir(path)))
    except OSError:  # unmounted, or the folder is gone
        return False
