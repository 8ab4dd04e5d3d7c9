"""Read-side queries. Safe from any thread: each thread reads on its own connection."""

from __future__ import annotations

from typing import Iterator

import peewee as pw

from sp404d.library.dedupe import EXACT_MATCHES
from sp404d.library.models import ANALYSIS_FIELDS, Failure, ImportRun, Location, Sample, path_under

Stamp = tuple[int, int]  # (size, mtime_ns): what decides "unchanged"


def known_stamp(path: str) -> tuple[str, Stamp] | None:
    """("location"|"failure", (size, mtime_ns)) recorded for a path, or None if unknown.
    Plain SQL: intake asks this for every file."""
    sql, key = Location._meta.database.execute_sql, Location.path.db_value(path)
    rows = sql("SELECT 0, size, mtime_ns FROM location WHERE path = ? AND state = 'present' "
               "UNION ALL SELECT 1, size, mtime_ns FROM failure WHERE path = ?", (key, key)).fetchall()
    if not rows:
        return None
    which, size, mtime_ns = min(rows)  # a present location over a failure
    return ("location" if which == 0 else "failure"), (size, mtime_ns)


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
        query = query.where(_under_any(roots, Location.path))
    query = query.group_by(Sample.id).order_by(Sample.id)
    if limit:
        query = query.limit(limit)
    return [Location.path.python_value(p) for (p,) in query.tuples()]


# what a newer decoder may read: not intake's verdicts (unreadable, empty, too large)
DECODER_FAILURES = ("unsupported", "corrupt")


def outdated_failures(version: int, roots: list[str] | None = None, limit: int | None = None) -> list[str]:
    """Files an older analyser could not decode (or a library from before analyser versions were
    kept on failures): a newer one tries them once more."""
    return failed_paths(roots, limit, (Failure.category.in_(DECODER_FAILURES)
                                       & (Failure.analysis_version.is_null() | (Failure.analysis_version < version))))


def _under_any(roots: list[str], field):
    clause = path_under(roots[0], field)
    for root in roots[1:]:
        clause |= path_under(root, field)
    return clause


def totals(analysis_version: int | None = None) -> dict:
    """Library counts; with the current analyser's version, also how many sounds an older one described."""
    present = Location.state == "present"
    older = ({"outdated": Sample.select(Sample.id).join(Location).where(present, Sample.analysis_version < analysis_version)
              .distinct().count()} if analysis_version is not None else {})
    return {
        # DISTINCT over the id alone: over every column (fingerprints too) it took seconds at 100,000
        "samples": Sample.select(Sample.id).join(Location).where(present).distinct().count(),
        "locations": Location.select().where(present).count(),
        "missing": Location.select().where(Location.state == "missing").count(),
        "duplicates": Location.select().where(present, Location.match.in_(EXACT_MATCHES)).count(),
        "near_duplicates": Location.select().where(present, Location.match == "near").count(),
        "groups": Sample.select(Sample.group_id).join(Location).where(present).distinct().count(),
        "categorised": Sample.select().join(Location).where(present, Sample.category.is_null(False)).distinct().count(),
        "failed": Failure.select().count(),
        "runs": ImportRun.select().count(),
        **older,
    }


SAMPLE_EXPORT = ("pcm_hash", "samplerate", "channels", "subtype", "bit_depth", "frames", "duration",
                 "analysis_version", "created_at", *ANALYSIS_FIELDS, "lossless", "group_id", "group_distance",
                 "group_correlation", "canonical")
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


_GROUP_FILES = """
SELECT s.group_id, s.id, s.canonical, s.group_distance, l.path, l.size, l.byte_hash, l.container,
       s.samplerate, s.bit_depth, s.lossless, s.group_correlation
  FROM location l JOIN sample s ON l.sample_id = s.id
 WHERE l.state = 'present' AND s.group_id IN (
       SELECT s2.group_id FROM location l2 JOIN sample s2 ON l2.sample_id = s2.id
        WHERE l2.state = 'present' GROUP BY s2.group_id HAVING COUNT(*) > 1)
 ORDER BY s.group_id, s.canonical DESC, s.id, l.id
"""


def duplicate_groups() -> Iterator[dict]:
    """Every sound that lives in more than one file: its canonical file (the first present file of
    the group's canonical sample) and each other file, with how it matches the canonical one:
    exact-bytes, exact-pcm (same decoded waveform), or near, with the evidence that it is the same
    recording: `correlation`, of the two waveforms (1 = the same up to gain), and `distance`, the
    share of fingerprint bits that differ (0 = none, ~0.5 = unrelated). `freeable_bytes` is what
    deleting the other files would free; sp404d itself never deletes."""
    sql = Location._meta.database.execute_sql
    group: list[tuple] = []
    for row in sql(_GROUP_FILES):
        if group and row[0] != group[0][0]:
            yield _describe_group(group)
            group = []
        group.append(row)
    if group:
        yield _describe_group(group)


def _describe_group(rows: list[tuple]) -> dict:
    def file(row) -> dict:
        quality = f"{row[8]} Hz/{row[9]}-bit" if row[10] else f"{row[8]} Hz, lossy"
        return {"sample_id": row[1], "path": Location.path.python_value(row[4]), "size": row[5],
                "container": row[7], "quality": quality}

    head = rows[0]  # ordered canonical sample first
    members = []
    for row in rows[1:]:
        if row[1] == head[1]:
            how = {"match": "exact-bytes" if row[6] == head[6] else "exact-pcm"}
        else:
            how = {"match": "near", "correlation": row[11], "distance": row[3]}
        members.append({**file(row), **how})
    return {"group": head[0], "canonical": file(head), "members": members,
            "freeable_bytes": sum(m["size"] for m in members)}


def failures(category: str | None = None) -> list[dict]:
    query = Failure.select().order_by(Failure.category, Failure.path)
    if category:
        query = query.where(Failure.category == category)
    return [{"path": f.path, "category": f.category, "message": f.message, "attempts": f.attempts,
             "size": f.size, "first_at": f.first_at, "last_at": f.last_at} for f in query]


def failed_paths(roots: list[str] | None = None, limit: int | None = None, where=None) -> list[str]:
    """Paths of failed files (under `roots`, matching `where`), in path order."""
    query = Failure.select(Failure.path).order_by(Failure.path)
    if where is not None:
        query = query.where(where)
    if roots:
        query = query.where(_under_any(roots, Failure.path))
    if limit:
        query = query.limit(limit)
    return [f.path for f in query]
