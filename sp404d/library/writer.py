"""The one thread that writes the library.

Everything that changes the DB is a command on one bounded queue; this thread applies them in
batches (up to `batch_items`, or whatever arrived within `batch_ms`), each batch one
transaction. No other thread or process writes, so "database is locked" cannot happen between
our own writers, and WAL lets readers go on while we commit.

A batch that fails on I/O (disk full, a read-only remount) is kept and retried with backoff:
nothing analysed is dropped while we wait for space. A batch that fails for any other reason is
split, so one bad command costs only itself.
"""

from __future__ import annotations

import queue
import threading
import time
from collections import OrderedDict
from typing import Callable

import peewee as pw

from sp404d import logs
from sp404d.analysis import same
from sp404d.analysis.fingerprint import Fingerprint, unpack_key
from sp404d.analysis.signature import Signature
from sp404d.library import commands as c
from sp404d.library import edits
from sp404d.library.dedupe import EXACT_MATCHES, decide
from sp404d.library.grouping import Grouping, Placement
from sp404d.library.models import ANALYSIS_FIELDS, ImportRun, Location, Sample
from sp404d.library.near_index import NearIndex
from sp404d.library.similar_index import SimilarIndex

log = logs.get("writer")
_STOP = object()
SAMPLE_FIELDS = ("samplerate", "channels", "subtype", "bit_depth", "frames", "duration", "analysis_version",
                 *ANALYSIS_FIELDS, "fingerprint", "fp_key", "signature", "lossless", "embedding")

_INSERT_SAMPLE = (f"INSERT INTO sample (pcm_hash, created_at, {', '.join(SAMPLE_FIELDS)}) "
                  f"VALUES ({', '.join('?' * (len(SAMPLE_FIELDS) + 2))})")
_UPDATE_SAMPLE = f"UPDATE sample SET {', '.join(f'{k} = ?' for k in SAMPLE_FIELDS)} WHERE id = ?"


_TO_DB = [(field, getattr(Sample, field).db_value) for field in SAMPLE_FIELDS]


def _stored(result: dict) -> list:
    """A result's sample values as stored, in SAMPLE_FIELDS order (the MFCC lists as JSON text)."""
    return [to_db(result.get(field)) for field, to_db in _TO_DB]


def _identity(result: dict) -> same.Identity | None:
    if not (result.get("fingerprint") and result.get("fp_key") and result.get("signature")):
        return None
    return same.Identity(Fingerprint.unpack(result["fingerprint"]), Signature.unpack(result["signature"]),
                         bool(result.get("lossless")))


# effects reported after each commit, as tuples: ("recorded", path, match, job, byte_hash),
# ("failed", path, category, job), ("moved", path), ("missing", count), ("retry", path, job)
Effect = tuple


class Writer(threading.Thread):
    def __init__(self, db: pw.SqliteDatabase, on_commit: Callable[[list[Effect]], None] | None = None,
                 batch_items: int = 500, batch_ms: float = 200.0, queue_size: int = 2048,
                 similar: SimilarIndex | None = None):
        super().__init__(name="sp404d-writer", daemon=True)
        self.db = db
        self.on_commit = on_commit or (lambda effects: None)
        self.batch_items = batch_items
        self.batch_seconds = batch_ms / 1000.0
        self.queue: queue.Queue = queue.Queue(maxsize=queue_size)
        self.transactions = 0
        self.error: str | None = None  # set while a batch waits to be retried (shown in status)
        self.near = NearIndex()  # candidates for near-duplicate matching; only this thread uses it
        self.grouping: Grouping = Grouping()  # which sound each sample is; only this thread uses it
        self._identities: OrderedDict[int, same.Identity] = OrderedDict()  # recently compared samples
        self._judging: tuple[int, dict[int, float]] = (0, {})  # the sample being placed, its candidates' BERs
        self.similar = similar  # the sounds' vectors for readers ("more like this"), kept current here
        self._touched: set[int] = set()  # samples and groups whose placement this batch wrote
        self._in_hand = 0  # commands taken off the queue whose commit and on_commit have not finished
        self._stopping = threading.Event()

    # -- producers (any thread) --
    def put(self, command) -> None:
        self.queue.put(command)  # blocks when full: backpressure reaches the producer

    def flush(self, timeout: float | None = None) -> None:
        reply = c.Reply()
        self.put(c.Barrier(reply))
        reply.wait(timeout)

    def stop(self, timeout: float | None = None) -> None:
        self._stopping.set()
        self.queue.put(_STOP)
        self.join(timeout)

    def depth(self) -> int:
        """Commands not yet fully written: queued, or in the batch being committed (until its
        effects are counted, so "idle" never shows while counters still lag the library)."""
        return self.queue.qsize() + self._in_hand

    # -- the thread --
    def run(self) -> None:
        with self.db.connection_context():
            self.near = self._load_index()
            if self.similar is not None:
                self.similar.load(self.db)
            while True:
                batch = self._next_batch()
                stop = batch and batch[-1] is _STOP
                if stop:
                    batch.pop()
                if batch:
                    self._in_hand = len(batch)
                    try:
                        self._commit(batch)
                    finally:
                        self._in_hand = 0
                if stop:
                    return

    def _next_batch(self) -> list:
        batch = [self.queue.get()]
        deadline = time.monotonic() + self.batch_seconds
        while (batch[-1] is not _STOP and not isinstance(batch[-1], (c.Barrier, c.Drained))
               and len(batch) < self.batch_items):
            remaining = deadline - time.monotonic()
            try:
                batch.append(self.queue.get(timeout=remaining) if remaining > 0 else self.queue.get_nowait())
            except queue.Empty:
                break
        return batch

    def _commit(self, batch: list) -> None:
        backoff = 0.5
        while True:
            try:
                effects = self._transaction(batch)
                break
            except pw.OperationalError as e:  # disk full, I/O error, locked by a foreign writer
                self.near = self._load_index()  # drop what the rolled-back batch added (and its groups)
                self.error = f"{e}; {len(batch)} results held in memory, retrying"
                log.error("write failed; holding the batch and retrying", error=str(e), items=len(batch))
                time.sleep(backoff)
                backoff = min(backoff * 2, 30.0)
            except Exception:
                self.near = self._load_index()
                if len(batch) == 1:
                    log.exception("command could not be written; dropped", command=repr(batch[0])[:300])
                    effects = []
                    break
                effects = []
                for one in batch:  # isolate the bad command
                    self._commit([one])
                return
        self.error = None
        if self.similar is not None and self._touched:
            self.similar.after_commit(self.db, self._touched)  # after the commit: readers never see a rolled-back sound
        self.on_commit(effects)
        for cmd in batch:
            if getattr(cmd, "reply", None) is not None:
                cmd.reply.set(cmd.reply.value)

    def _transaction(self, batch: list) -> list[Effect]:
        effects: list[Effect] = []
        self._touched = set()
        with self.db.atomic():
            for cmd in batch:
                effects.extend(self._apply(cmd))
        self.transactions += 1
        return effects

    # -- applying one command (inside the batch's transaction) --
    def _apply(self, cmd) -> list[Effect]:
        now = time.time()
        if isinstance(cmd, c.RecordResult):
            return self._record(cmd.file, cmd.byte_hash, cmd.job, now, result=cmd.result)
        if isinstance(cmd, c.RecordCopy):
            return self._record(cmd.file, cmd.byte_hash, cmd.job, now, result=None)
        if isinstance(cmd, c.StartRun):
            cmd.reply.value = ImportRun.create(kind=cmd.kind, started_at=now).id
            return []
        if isinstance(cmd, c.FinishRun):
            ImportRun.update(finished_at=now, **cmd.counters).where(ImportRun.id == cmd.run_id).execute()
            return []
        if isinstance(cmd, (c.Barrier, c.Drained)):
            return []
        apply = edits.BY_COMMAND.get(type(cmd))
        if apply is not None:
            return apply(cmd, now)
        raise TypeError(f"unknown writer command {cmd!r}")

    # The hot path, in plain SQL: peewee's query building cost more than SQLite itself here
    # (measured: 1.5 ms of the main process's 2.5 ms per file). Statements are cached by sqlite3.
    def _record(self, f: c.FileStat, byte_hash: str, job, now: float, result: dict | None) -> list[Effect]:
        sql = self.db.execute_sql
        path = Location.path.db_value(f.path)
        here = sql("SELECT id, sample_id, match FROM location WHERE path = ?", (path,)).fetchone()
        twin = sql("SELECT sample_id, container FROM location WHERE byte_hash = ? AND path != ? LIMIT 1",
                   (byte_hash, path)).fetchone()
        if result is None:  # a byte-identical copy: its twin tells us the sample
            if twin is None:
                return [("retry", f.path, job)]
            sample = sql("SELECT id, analysis_version FROM sample WHERE id = ?", (twin[0],)).fetchone()
        else:
            sample = sql("SELECT id, analysis_version FROM sample WHERE pcm_hash = ?", (result["pcm_hash"],)).fetchone()
        shared = sample is not None and sql("SELECT 1 FROM location WHERE sample_id = ? AND path != ? LIMIT 1",
                                            (sample[0], path)).fetchone() is not None
        near = False
        if sample is None:
            values = [result["pcm_hash"], now] + _stored(result)
            sample_id = sql(_INSERT_SAMPLE, values).lastrowid
            near = self._group(sample_id, result, new=True)
        else:
            sample_id = sample[0]
            if result is not None and result["analysis_version"] > sample[1]:
                # the analyser improved since this sound was first recorded: keep the newer description,
                # and place the sound again on the newer evidence
                sql(_UPDATE_SAMPLE, _stored(result) + [sample_id])
                near = self._group(sample_id, result)
        match = decide(sample_exists=shared, bytes_known=twin is not None, near=near,
                       was=here[2] if here is not None and here[1] == sample_id else None).match
        stored = match if match in EXACT_MATCHES else self._primary_match(sample_id)
        container = result["container"] if result else twin[1]
        if here is None:
            sql("INSERT INTO location (path, sample_id, size, mtime_ns, byte_hash, container, match, state, "
                "first_seen, last_seen) VALUES (?, ?, ?, ?, ?, ?, ?, 'present', ?, ?)",
                (path, sample_id, f.size, f.mtime_ns, byte_hash, container, stored, now, now))
        else:
            sql("UPDATE location SET sample_id = ?, size = ?, mtime_ns = ?, byte_hash = ?, container = ?, match = ?, "
                "state = 'present', last_seen = ? WHERE id = ?",
                (sample_id, f.size, f.mtime_ns, byte_hash, container, stored, now, here[0]))
        sql("DELETE FROM failure WHERE path = ?", (path,))
        return [("recorded", f.path, match, job, byte_hash)]

    # -- near duplicates --
    def _load_index(self) -> NearIndex:
        """The index and the groups, as the library holds them (at start, and after a rollback)."""
        self._identities.clear()  # a rolled-back batch may have cached ids that SQLite will reuse
        index, grouping = NearIndex(), Grouping()
        rows = self.db.execute_sql("SELECT id, fp_key, group_id, lossless, samplerate, bit_depth, duration, peak_dbfs, "
                                   "pcm_hash FROM sample WHERE fp_key IS NOT NULL AND signature IS NOT NULL").fetchall()
        for sample_id, blob, group_id, *quality in rows:
            index.add(sample_id, *unpack_key(bytes(blob)))
            grouping.load(sample_id, same.order_key(*quality), group_id if group_id is not None else sample_id)
        for sample_id, canonical in list(grouping.canonical_of.items()):
            if canonical not in grouping.key:  # a canonical that lost its evidence: the member stands alone
                grouping.load(sample_id, grouping.key[sample_id], sample_id)
        self.grouping = grouping
        return index

    def _group(self, sample_id: int, result: dict, new: bool = False) -> bool:
        """Place a new or newly described sample in its group (grouping.py), and store every
        placement that changed. Serial in this thread, so two copies analysed at once cannot both
        found a group. Returns whether the sound was already in the library (it joined a group,
        or became the canonical member of one)."""
        if sample_id in self.grouping:  # described again: its old evidence leaves with it
            self.near.discard(sample_id)
            self._identities.pop(sample_id, None)
            self._store(self.grouping.remove(sample_id, self._candidates, self._judge))
        identity = _identity(result)
        if identity is None:  # silence, or nothing to compare: a sound of its own
            self._store([Placement(sample_id, sample_id, None)])
            return False
        duration, key = unpack_key(result["fp_key"])
        self.near.add(sample_id, duration, key)
        self._remember(sample_id, identity)  # new sounds are the next ones' likeliest candidates
        order = same.order_key(identity.lossless, result["samplerate"], result.get("bit_depth"),
                               result["duration"], result.get("peak_dbfs"), result["pcm_hash"])
        changes = self.grouping.add(sample_id, order, self._candidates, self._judge)
        self._store(changes, new=sample_id if new else None)
        return changes[0].canonical != sample_id or len(changes) > 1

    def _candidates(self, sample_id: int) -> list[int]:
        """Grouped samples that might be the same recording as this one: the index's nearest keys,
        and the canonical member of each one's group (in a big group the members can crowd the
        canonical out of the nearest keys, and only a canonical can take a new member); those
        whose fingerprint already rules them out are left out (one batched pass)."""
        mine = self._identities_of([sample_id]).get(sample_id)
        entry = self.near.entry(sample_id)
        self._judging = (sample_id, {})
        if mine is None or entry is None:
            return []
        ids = [i for i in self.near.candidates(*entry) if i != sample_id]
        for i in list(ids):
            canonical = self.grouping.canonical_of.get(i)
            if canonical is not None and canonical != sample_id and canonical not in ids:
                ids.append(canonical)
        found = self._identities_of(ids)
        ids = [i for i in ids if i in found]
        kept = {ids[i]: ber for i, ber in same.worth_judging(mine, [found[i] for i in ids])}
        self._judging = (sample_id, kept)
        return list(kept)

    def _judge(self, sample_id: int, other: int) -> same.Verdict | None:
        """The verdict when the two are the same recording (grouping.py asks only where it matters)."""
        current, bers = self._judging
        found = self._identities_of([sample_id, other])
        if sample_id not in found or other not in found:
            return None
        verdict = same.judge(found[sample_id], found[other], bers.get(other) if current == sample_id else None)
        return verdict if verdict.same else None

    def _store(self, changes: list[Placement], new: int | None = None) -> None:
        """Write placements; `new`: a sample whose files are not recorded yet (they get their match
        when they are)."""
        sql = self.db.execute_sql
        for p in changes:
            self._touched.update((p.sample, p.canonical))
            v = p.verdict
            sql("UPDATE sample SET group_id = ?, canonical = ?, group_distance = ?, group_correlation = ? WHERE id = ?",
                (p.canonical, p.canonical == p.sample, None if v is None else round(v.ber, 4),
                 None if v is None else round(v.correlation, 4), p.sample))
            if p.sample != new:  # its own files say whether it is its group's canonical member or not
                sql("UPDATE location SET match = ? WHERE sample_id = ? AND match IN ('first', 'near')",
                    ("first" if p.canonical == p.sample else "near", p.sample))

    def _primary_match(self, sample_id: int) -> str:
        canonical = self.grouping.canonical_of.get(sample_id, sample_id)
        return "first" if canonical == sample_id else "near"

    IDENTITY_CACHE = 2048

    def _identities_of(self, ids: list[int]) -> dict[int, same.Identity]:
        """The samples' fingerprints and signatures. A bulk import compares each new sound with its
        neighbours in duration, the same few hundred sounds again and again: the most recent
        IDENTITY_CACHE stay unpacked in memory (~10 KB each)."""
        cache = self._identities
        found = {}
        for i in ids:
            if i in cache:
                cache.move_to_end(i)
                found[i] = cache[i]
        missing = [i for i in ids if i not in found]
        if missing:  # (remembering these may push out some of `found`: they are kept in `found`)
            for sample_id, fp_blob, sig_blob, lossless in self.db.execute_sql(
                    f"SELECT id, fingerprint, signature, lossless FROM sample WHERE id IN ({','.join('?' * len(missing))}) "
                    "AND fingerprint IS NOT NULL AND signature IS NOT NULL", missing):
                identity = same.Identity(Fingerprint.unpack(bytes(fp_blob)), Signature.unpack(bytes(sig_blob)),
                                         bool(lossless))
                self._remember(sample_id, identity)
                found[sample_id] = identity
        return found

    def _remember(self, sample_id: int, identity: same.Identity) -> None:
        self._identities[sample_id] = identity
        self._identities.move_to_end(sample_id)
        while len(self._identities) > self.IDENTITY_CACHE:
            self._identities.popitem(last=False)
