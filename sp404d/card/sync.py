"""Writing kits to a card, safe to pull at any moment.

Every file is rendered, written under a temporary name in SP404D/tmp/ (outside IMPORT/, so the
device never lists it), fsynced, renamed into IMPORT/<KIT>/, and the folder fsynced: IMPORT/ only
ever holds whole files. The manifest (SP404D/manifest-[ab].json, see manifest.py) marks each write
pending before it starts and records it after, so a sync cut short is completed by the next one,
and a file is only ever replaced or removed while its content is what sp404d wrote. A file at a
pad's path that the manifest does not know is adopted only if it is byte for byte what sp404d
would write there (a write whose manifest update the pull lost). A sound that only changed pads is
renamed, not written again (plan.py pairs them).

What is on the card is read at the start of every sync, but a pad file whose size and modification
time are still what the manifest recorded when sp404d wrote it is taken on that stamp (a stat, not
a read: a card of loop kits holds hundreds of megabytes). A stamp only ever keeps a file as it is:
before a sync replaces, moves or removes a file, it reads the file and checks the hash.
"""

from __future__ import annotations

import errno
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import xxhash

from sp404d import logs
from sp404d.card import manifest as manifest_store
from sp404d.card.convert import RenderError, render
from sp404d.card.detect import OWN_FOLDER
from sp404d.card.naming import pad_file_names
from sp404d.card.plan import Plan, Want, plan
from sp404d.card.root import CardRoot
from sp404d.errors import Sp404dError

log = logs.get("card")
OWN = OWN_FOLDER  # sp404d's own folder on the card: the manifest, and temporary files
TMP = f"{OWN}/tmp"
JUNK = (".DS_Store",)


class CardError(Sp404dError):
    pass


@dataclass
class Report:
    card: str
    plan: Plan
    written: int = 0
    moved: int = 0
    removed: int = 0
    bytes_written: int = 0
    bytes_read: int = 0   # pad files read back to check them (the rest were taken on their stamp)
    empty_pads: dict = field(default_factory=dict)   # kit -> [pad, ...]
    unreadable: dict = field(default_factory=dict)   # card path -> why its source could not be rendered
    done: set = field(default_factory=set)           # card paths written by this sync (`written` counts them)
    finished_at: float | None = None
    error: str | None = None

    def as_dict(self) -> dict:
        return {"card": self.card, "written": self.written, "moved": self.moved, "removed": self.removed, "kept": len(self.plan.keep),
                "blocked": self.plan.blocked, "changed": self.plan.changed, "bytes_written": self.bytes_written,
                "bytes_read": self.bytes_read, "empty_pads": self.empty_pads, "unreadable": self.unreadable,
                "pending": ([w.rel for _, w in self.plan.move][self.moved:]
                            + [w.rel for w in self.plan.write if w.rel not in self.done and w.rel not in self.unreadable]
                            if self.error else []),
                "finished_at": self.finished_at, "error": self.error,
                "plan": {"write": [w.rel for w in self.plan.write], "move": [[rel, w.rel] for rel, w in self.plan.move],
                         "remove": self.plan.remove,
                         "keep": self.plan.keep, "forget": self.plan.forget}}


def wants_for(kits_and_pads: list) -> tuple[list[Want], dict]:
    """[(KitDef, [Pad])] -> the files the kits want, and the empty pads of each kit."""
    wants, empty = [], {}
    for kit, pads in kits_and_pads:
        if not kit.sync:
            continue
        filled = {p.pad: p.row for p in pads if p.row}
        names = pad_file_names({pad: os.path.splitext(os.path.basename(row["path"]))[0]
                                for pad, row in filled.items()})
        for pad, row in sorted(filled.items()):
            wants.append(Want(f"IMPORT/{kit.folder}/{names[pad]}", row["sample_id"], row["pcm_hash"], row["path"],
                              kit.name, pad))
        missing = [p.pad for p in pads if not p.row]
        if missing:
            empty[kit.name] = missing
    return wants, empty


def _entry(w: Want, size: int, digest: str) -> dict:
    """What the manifest records of a file sp404d wrote for a pad."""
    return {"sample": w.sample_id, "pcm": w.pcm_hash, "size": size, "hash": digest, "source": w.source,
            "kit": w.kit, "pad": w.pad}


def _hash_file(path: Path) -> tuple[int, str] | None:
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        return None
    return len(data), xxhash.xxh3_128_hexdigest(data)


class Card(CardRoot):
    """A card's kits, synced through the root's descriptor (root.py)."""

    def __init__(self, root: Path):
        super().__init__(root)
        self.own = self.root / OWN
        self._slot: str | None = None

    def manifest(self) -> dict:
        data, self._slot = manifest_store.load(self.own)
        return data

    def save(self, manifest: dict) -> None:
        self._guard()
        self._mkdir(OWN)
        manifest["seq"] = manifest.get("seq", 0) + 1
        slot = manifest_store.next_slot(self._slot)
        self._write_atomic(f"{OWN}/{slot}", manifest_store.encode(manifest), tmp_dir=OWN)
        self._slot = slot

    def _clean_tmp(self) -> None:
        """Temporary files of a sync that was cut short (only in our own folder)."""
        try:
            names = self._listdir(TMP)
        except FileNotFoundError:
            return
        for name in names:
            if name.endswith(".tmp"):
                self._unlink(f"{TMP}/{name}")

    def sync(self, kits_and_pads: list, dry_run: bool = False, stop=lambda: False) -> Report:
        if not self.open():
            raise CardError(f"no card at {self.root}")
        try:
            return self._sync(kits_and_pads, dry_run, stop)
        finally:
            self.close()

    def _sync(self, kits_and_pads: list, dry_run: bool, stop) -> Report:
        manifest = self.manifest()
        wants, empty = wants_for(kits_and_pads)
        paths = {w.rel for w in wants} | set(manifest["files"])
        on_card, stamped, fresh = self._look(paths, manifest["files"])
        p = plan(wants, manifest["files"], on_card)
        while unread := stamped & _touched(p):  # never change a file on the strength of its stamp
            for rel in unread:
                on_card[rel] = _hash_file(self.root / rel)
            stamped -= unread
            p = plan(wants, manifest["files"], on_card)
        read = sum(found[0] for rel, found in on_card.items() if found and rel not in stamped)
        report = Report(str(self.root), p, bytes_read=read, empty_pads=empty)
        if dry_run:
            return report
        for rel, mtime_ns in fresh.items():
            manifest["files"][rel]["mtime_ns"] = mtime_ns
        changed = self._adopt(p, wants, on_card, manifest) or bool(fresh)
        self._clean_tmp()
        for rel in p.forget:
            manifest["files"].pop(rel, None)
        if not p.changes:
            self._tidy(manifest, wants)
            if p.forget or changed:
                self.save(manifest)
            report.finished_at = time.time()
            return report
        need = sum(os.path.getsize(w.source) * 2 for w in p.write)  # rough: 48 kHz/16-bit of a 44.1/16 source
        free = self.free_bytes()
        if free is not None and free < need:
            report.error = f"the card has {free / 1e6:.1f} MB free; this sync needs about {need / 1e6:.1f} MB"
            return report
        try:
            self._guard()
            for folder in ("IMPORT", OWN, TMP):
                self._mkdir(folder)
            for rel, w in p.move:
                self._move(rel, w, manifest)
                report.moved += 1
            for w in p.write:
                if stop():
                    raise CardError("sync stopped")
                try:
                    data = render(w.source)
                except (RenderError, OSError) as e:
                    # the source on the computer, not the card: this pad waits, the rest are written
                    report.unreadable[w.rel] = f"{w.source}: {e}"
                    log.warning("cannot render for the card", source=w.source, card_path=w.rel, error=str(e))
                    continue
                entry = _entry(w, len(data), xxhash.xxh3_128_hexdigest(data))
                # pending first: if the card goes mid-write, the next sync knows both the old content
                # (still ours to replace) and the new (ours if the rename happened)
                old = manifest["files"].pop(_match(manifest["files"], w.rel), None)
                present = on_card.get(w.rel)
                manifest["files"][w.rel] = {**entry, "pending": True,
                                            "previous_hash": present[1] if old and present else None}
                self._guard()
                self._kit_folder(w.rel, manifest)
                self.save(manifest)
                self._guard()
                self._write_atomic(w.rel, data, tmp_dir=TMP)
                manifest["files"][w.rel] = {**entry, "mtime_ns": self._mtime(w.rel)}
                report.written += 1
                report.done.add(w.rel)
                report.bytes_written += len(data)
            for rel in p.remove:
                self._guard()
                self._unlink(rel)
                manifest["files"].pop(rel, None)
                report.removed += 1
            self._tidy(manifest, wants)
        except OSError as e:
            report.error = _why(e)
            log.error("sync stopped", card=str(self.root), error=report.error)
        finally:
            try:
                self.save(manifest)
            except OSError as e:  # the card is gone: the pending marks on it let the next sync finish
                report.error = report.error or f"the card went away: {e}"
        report.finished_at = time.time()
        return report

    def _look(self, paths: set[str], files: dict) -> tuple[dict, set[str], dict[str, int]]:
        """(size, hash) of what is at each path (None: nothing); the paths whose hash was taken from
        the manifest because the file's stamp (size, mtime) is the one recorded; and the new stamps
        of our files that were read and found unchanged although their stamp was not the recorded
        one (a manifest from before stamps, a time-zone change), so that the next sync need not
        read them. A pending entry is always read: its write may or may not have happened."""
        on_card, stamped, fresh = {}, set(), {}
        for rel in paths:
            entry = files.get(rel)
            mine = entry is not None and not entry.get("pending")
            if mine:
                try:
                    st = os.stat(self.root / rel)
                except FileNotFoundError:
                    on_card[rel] = None
                    continue
                if (st.st_size, st.st_mtime_ns) == (entry.get("size"), entry.get("mtime_ns")):
                    on_card[rel] = (st.st_size, entry["hash"])
                    stamped.add(rel)
                    continue
            on_card[rel] = found = _hash_file(self.root / rel)
            if mine and found == (entry.get("size"), entry.get("hash")):
                fresh[rel] = st.st_mtime_ns
        return on_card, stamped, fresh

    def _kit_folder(self, rel: str, manifest: dict) -> None:
        folder = os.path.dirname(rel)
        if self._mkdir(folder):
            manifest["folders"].append(os.path.basename(folder))

    def _move(self, rel: str, w: Want, manifest: dict) -> None:
        """Rename a file we wrote to the pad its sound moved to. Marked pending first, as a write
        is: a pull before the rename leaves the old file (ours, moved next time); after it, the new
        one (ours by its hash, rewritten next time since the mark is still there)."""
        was = manifest["files"][rel]
        entry = _entry(w, was["size"], was["hash"])
        self._guard()
        self._kit_folder(w.rel, manifest)
        manifest["files"][w.rel] = {**entry, "pending": True, "previous_hash": None}
        self.save(manifest)
        self._guard()
        self._rename(rel, w.rel)
        for folder in {os.path.dirname(rel), os.path.dirname(w.rel)}:
            self._fsync_dir(folder)
        stamp = self._mtime(w.rel)  # before the manifest changes: a failure leaves it as it was
        manifest["files"].pop(rel)
        manifest["files"][w.rel] = {**entry, "mtime_ns": stamp}

    def _adopt(self, p: Plan, wants: list[Want], on_card: dict, manifest: dict) -> bool:
        """A file at a pad's path that the manifest does not know is ours if it is exactly what we
        would write there: its write finished, but the manifest save after it was lost. A file found
        to be the user's is remembered with both hashes, so it is not rendered again every sync
        while neither the sound nor the file changes. True if the manifest changed."""
        by_rel = {w.rel: w for w in wants}
        before = manifest.get("users", {})
        users, adopted = {}, False
        for rel in list(p.blocked):
            w = by_rel[rel]
            seen = [w.pcm_hash, on_card[rel][1]]
            if before.get(rel) == seen:
                users[rel] = seen
                continue
            try:
                data = render(w.source)
            except Exception:  # cannot render: leave the file alone
                continue
            if (len(data), xxhash.xxh3_128_hexdigest(data)) == on_card.get(rel):
                p.blocked.remove(rel)
                if rel in p.changed:
                    p.changed.remove(rel)
                p.keep.append(rel)
                manifest["files"][rel] = {**_entry(w, len(data), on_card[rel][1]), "mtime_ns": self._mtime(rel)}
                adopted = True
            else:
                users[rel] = seen
        manifest["users"] = users
        return adopted or users != before

    def _tidy(self, manifest: dict, wants: list[Want]) -> None:
        """In the kit folders we made: remove macOS litter, and the folder itself once no kit wants it
        and it is empty."""
        self._guard()
        wanted = {w.rel.split("/")[1].upper() for w in wants}
        for name in list(manifest["folders"]):
            folder = f"IMPORT/{name}"
            try:
                entries = self._listdir(folder)
            except (FileNotFoundError, NotADirectoryError):
                manifest["folders"].remove(name)
                continue
            for entry in entries:
                if entry.startswith("._") or entry in JUNK:
                    self._unlink(f"{folder}/{entry}")
            if name.upper() not in wanted and not self._listdir(folder):
                self._rmdir(folder)
                manifest["folders"].remove(name)


def _why(e: OSError) -> str:
    if e.errno in (errno.ENODEV, errno.ENOTCONN, errno.EIO):
        return f"the card went away during the sync ({e.strerror}); it completes when the card is back"
    if e.errno in (errno.ENOSPC, errno.EDQUOT):
        return f"the card is full ({e.strerror}); the files written so far are complete, the rest will follow"
    if e.errno in (errno.EPERM, errno.EROFS, errno.EACCES):  # fusefat says EPERM when the card is full
        return (f"the card refused a write ({e.strerror}): it is full or write-protected; "
                "the files written so far are complete")
    return f"writing to the card failed ({e.strerror or e}); the files written so far are complete"


def _touched(p: Plan) -> set[str]:
    """The paths whose file a plan replaces, moves or removes."""
    return set(p.remove) | {rel for rel, _ in p.move} | {w.rel for w in p.write}


def _match(files: dict, rel: str) -> str | None:
    for k in files:
        if k.upper() == rel.upper():
            return k
    return None
