"""Running a parsed query against the library (reads only, on the caller's connection).

A result is a sound, not a file: the files of one dedupe group collapse into one row, the group's
best present file (see select.rank). Filtering is SQL; collapsing and ranking are Python. A query
with like:REF is ranked by similarity instead (kits/like.py).
"""

from __future__ import annotations

from typing import Iterator

import peewee as pw

from sp404d.analysis.tags import NOTE_NAMES
from sp404d.kits.query import Clause, Query
from sp404d.kits.select import rank
from sp404d.library.models import Location, Sample, Source

COLUMNS = ("sample_id", "pcm_hash", "group_id", "canonical", "path", "kind", "category", "category_confidence",
           "category_source", "bpm", "key", "scale", "duration", "created_at", "clipped_samples", "peak_dbfs",
           "loudness_lufs", "samplerate", "channels")


def _range(column, bounds: tuple[float, float]):
    lo, hi = bounds
    if lo == float("-inf"):
        return column <= hi
    if hi == float("inf"):
        return column >= lo
    return column.between(lo, hi)


def _under(root_column):
    # path below root, as an index-friendly range ("0" sorts right after "/")
    return (Location.path >= root_column.concat("/")) & (Location.path < root_column.concat("0"))


def condition(clause: Clause):
    f, v = clause.field, clause.value
    if f == "word":
        expr = (Location.path.contains(v) | (Sample.category == v) | Sample.category.startswith(v + "-"))
    elif f == "category":
        expr = Sample.category.in_(sorted(v))
    elif f == "kind":
        expr = Sample.kind == v
    elif f == "scale":
        expr = Sample.scale == v
    elif f == "bpm":
        expr = _range(Sample.bpm, v) | _range(Sample.bpm_alt, v)  # a half-time loop is found at either tempo
    elif f == "dur":
        expr = _range(Sample.duration, v)
    elif f == "added":
        expr = _range(Sample.created_at, v)
    elif f == "path":
        expr = Location.path.contains(v)
    elif f == "name":
        expr = pw.fn.basename(Location.path).contains(v)
    elif f == "key":
        expr = None
        for pc, scale in sorted(v, key=lambda k: (k[0], k[1] or "")):
            one = Sample.key == NOTE_NAMES[pc]
            if scale:
                one &= Sample.scale == scale
            expr = one if expr is None else expr | one
    elif f == "source":
        expr = pw.fn.EXISTS(Source.select(pw.SQL("1")).where(pw.fn.lower(Source.label) == v, _under(Source.root)))
    else:
        raise ValueError(f"no condition for {f}")
    # a negated condition also keeps rows where the value is unknown (NULL)
    return pw.fn.COALESCE(expr, 0) == 0 if clause.negate else expr


def matching(query: Query, sample_id: int | None = None, groups: list[int] | None = None) -> Iterator[dict]:
    """Every present file matching the query (of one sample, or of these sounds, if given), with
    its sample's fields. A like: term selects nothing here: it ranks (kits/like.py)."""
    fields = [Sample.id.alias("sample_id"), Location.path] + [getattr(Sample, c) for c in COLUMNS
                                                                if c not in ("sample_id", "path")]
    q = Location.select(*fields).join(Sample).where(Location.state == "present")
    if sample_id is not None:
        q = q.where(Sample.id == sample_id)
    if groups is not None:
        q = q.where(Sample.group_id.in_(groups))
    for clause in query.clauses:
        if clause.field != "like":
            q = q.where(condition(clause))
    for row in q.dicts().iterator():
        row["path"] = Location.path.python_value(row["path"])
        yield row


def sounds(query: Query, index=None, aspect: str = "all", limit: int | None = None,
           groups: list[int] | None = None) -> list[dict]:
    """One row per sound (dedupe group), its best present file, in the query's sort order (or by
    rank). Ties keep a stable order, so the same library always gives the same list. Each row also
    says when its sound first arrived (`arrived`: the group's oldest matching file).

    With like:REF, the sounds most like REF first, each with its `distance` (library.similar_index:
    `index`, or one read from the library for this search; `aspect` says what counts as alike)."""
    query.check_like()
    if query.like is not None:
        from sp404d.kits import like

        return like.ranked(query, index, aspect, limit)
    best: dict[int, dict] = {}
    arrived: dict[int, float] = {}
    for row in matching(query, groups=groups):
        group = row["group_id"] or -row["sample_id"]
        if group not in best or (rank(row), row["path"]) < (rank(best[group]), best[group]["path"]):
            best[group] = row
        arrived[group] = min(arrived.get(group, row["created_at"]), row["created_at"])
    for group, row in best.items():
        row["arrived"] = arrived[group]  # when the sound first came: what a kit's stability goes by
    rows = sorted(best.values(), key=rank)
    for column, descending in reversed(query.sort):  # stable sorts: the first sort key wins
        present = [r for r in rows if r[column] is not None]
        missing = [r for r in rows if r[column] is None]
        rows = sorted(present, key=lambda r: r[column], reverse=descending) + missing
    return rows if limit is None else rows[:limit]
