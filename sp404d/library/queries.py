"""Read-side queries. Safe from any thread: each thread reads on its own connection."""

from __future__ import annotations

from typing import Iterator

import peewee as pw

from sp404d.library.models import ANALYSIS_FIELDS, Failure, ImportRun, Location, Sample, path_under

Stamp = tuple[int, int]  # (size, mtime_ns): what decides "unchanged"


def known_stamp(path: str) -> tuple[str, Stamp] | None:
    """("location"|"failure", (size, mtime_ns)) recorded for a path, or None if unknown.
    Plain SQL: intake asks this for every file."""
    sql, key = Location._meta.database.execute_sql, Location.path.db_value(path)
    row = sql("SELECT size, mtime_ns FROM location WHERE path = ? AND state = 'present'", (key,)).fetchone()
    if row:
        return "location", (row[0], row[1])
    row = sql("SELECT size, mtime_ns FROM failure WHERE path = ?", (key,)).fetchone()
    return ("failure", (row[0], row[1])) if row else None


def stamps_under(root: str) -> tuple[dict[str, Stamp], dict[str, Stamp]]:
    """Present locations and failures below `root`, for a reconcile scan that opens no audio."""
    present = {p: (s, m) for p, s, m in
               Location.select(Location.path, Location.size, Location.mtime_ns)
               .where(path_under(root), Location.state == "present").tuples()}
    failed = {p: (s, m) for p, s, m in
              Failure.select(Failure.path, Failure.size, Failure.mtime_ns)
              .where(path_under(root, Failure.path)).tuples()}
    return present, failed


def bytes_known(byte_hash: str) -> bool:
    sql = Location._meta.database.execute_sql
    return sql("SELECT 1 FROM location WHERE byte_hash = ? LIMIT 1", (byte_hash,)).fetchone() is not None


def outdated(version: int, roots: list[str] | None = None, limit: int | None = None) -> list[str]:
    """One present file per sample analysed by an older analyser (re-analysing one updates the
    sample for all its locations)."""
    query = (Location.select(pw.fn.MIN(Location.path))
             .join(Sample).where(Sample.analysis_version < version, Location.state == "present"))
    if roots:
        under = [path_under(r) for r in roots]
        clause = under[0]
        for extra in under[1:]:
            clause |= extra
        query = query.where(clause)
    query = query.group_by(Sample.id).order_by(Sample.id)
    if limit:
        query = query.limit(limit)
    return [Location.path.python_value(p) for (p,) in query.tuples()]


def totals() -> dict:
    present = Location.state == "present"
    return {
        "samples": (Sample.select().join(Location).where(present).distinct().count()),
        "locations": Location.select().where(present).count(),
        "missing": Location.select().where(Location.state == "missing").count(),
        "duplicates": Location.select().where(present, Location.match != "first").count(),
        "failed": Failure.select().count(),
        "runs": ImportRun.select().count(),
    }


SAMPLE_EXPORT = ("pcm_hash", "samplerate", "channels", "subtype", "bit_depth", "frames", "duration",
                 "analysis_version", "created_at", *ANALYSIS_FIELDS)
LOCATION_EXPORT = ("path", "state", "size", "mtime_ns", "byte_hash", "container", "match", "first_seen", "last_seen")


def export_fields() -> list[str]:
    return ["sample_id", *LOCATION_EXPORT, *(f for f in SAMPLE_EXPORT)]


def export_rows() -> Iterator[dict]:
    """One row per location: where it is, its sample id, and every field of its sample."""
    query = (Location.select(Location, Sample).join(Sample).order_by(Location.path))
    for loc in query.iterator():
        row = {"sample_id": loc.sample.id}
        row.update({k: getattr(loc, k) for k in LOCATION_EXPORT})
        row.update({k: getattr(loc.sample, k) for k in SAMPLE_EXPORT})
        yield row
