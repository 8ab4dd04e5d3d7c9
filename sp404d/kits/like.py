"""`like:REF` and `sp404d similar REF`: sounds ranked by how alike they are to one sound.

REF is a sample id (digits), a path the library knows, or a file name (with or without its
extension, any case). A name that several sounds have is refused with their paths: guessing would
rank by a sound the user did not mean. Copies of one sound (its dedupe group) are one sound, so a
name found only in a sound's copies is fine.

The results are sounds (groups), never REF's own. Reads only, on the caller's connection.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from sp404d.analysis import embedding
from sp404d.errors import Sp404dError
from sp404d.kits import search
from sp404d.kits.query import Query, QueryError, parse
from sp404d.library import similar_index
from sp404d.library.models import Location, Sample
from sp404d.library.similar_index import SimilarIndex

SHOWN = 5            # paths listed when a name is ambiguous
WIDEST = 20_000      # past this many nearest sounds, rank the whole library instead


class UnknownReference(Sp404dError):
    pass


@dataclass(frozen=True)
class Reference:
    sample_id: int
    sound: int       # its group: the id the index knows it by
    path: str | None  # a present file of it (None if none is present)


def sound_of(row: dict) -> int:
    return row["group_id"] or row["sample_id"]


def reference(ref: str) -> Reference:
    """The sound REF names, or UnknownReference (one line)."""
    sql = Sample._meta.database.execute_sql
    if ref.isdigit():
        rows = sql("SELECT s.id, COALESCE(s.group_id, s.id), l.path FROM sample s LEFT JOIN location l "
                   "ON l.sample_id = s.id AND l.state = 'present' WHERE s.id = ? ORDER BY l.path LIMIT 1",
                   (int(ref),)).fetchall()
        if not rows:
            raise UnknownReference(f"no sample has id {ref}")
        return _ref(rows[0])
    if os.sep in ref or ref.startswith("~"):
        path = os.path.abspath(os.path.expanduser(ref))
        rows = sql("SELECT s.id, COALESCE(s.group_id, s.id), l.path FROM location l JOIN sample s ON l.sample_id = s.id "
                   "WHERE l.path = ?", (Location.path.db_value(path),)).fetchall()
        if not rows:
            raise UnknownReference(_failed(path, by_path=True) or f"the library has no file {path}")
        return _ref(rows[0])
    found = _called(ref, "SELECT s.id, COALESCE(s.group_id, s.id), l.path FROM location l JOIN sample s ON l.sample_id = s.id "
                         "WHERE l.state = 'present' AND basename(l.path) LIKE ? ESCAPE '\\' ORDER BY l.path")
    sounds = {r[1] for r in found}
    if not found:
        raise UnknownReference(_failed(ref, by_path=False)
                               or f"no file is called {ref!r} (give a sample id, a path or a file name)")
    if len(sounds) > 1:
        paths = [Location.path.python_value(r[2]) for r in found]
        more = f" and {len(paths) - SHOWN} more" if len(paths) > SHOWN else ""
        raise UnknownReference(f"{len(sounds)} different sounds are called {ref!r}: "
                               f"{', '.join(paths[:SHOWN])}{more}; give a path or a sample id")
    return _ref(found[0])


def _failed(ref: str, by_path: bool) -> str | None:
    """Why REF has no sound, when it is a file that could not be analysed: say so, not "no such file"."""
    sql = Sample._meta.database.execute_sql
    if by_path:
        rows = sql("SELECT category, message, path FROM failure WHERE path = ?", (Location.path.db_value(ref),)).fetchall()
    else:
        rows = _called(ref, "SELECT category, message, path FROM failure WHERE basename(path) LIKE ? ESCAPE '\\' "
                            "ORDER BY path")
    if not rows:
        return None
    category, message, path = rows[0]
    return (f"{Location.path.python_value(path)} could not be analysed ({category}: {message}), so it has no "
            f"similar sounds; `sp404d failures` lists such files")


def _called(ref: str, sql_text: str) -> list:
    """The rows of `sql_text` whose file (each row's last value) is called `ref`, with or without its
    extension, in any case. `sql_text` narrows by the name's start with one `LIKE ? ESCAPE '\\'`
    (given `ref` with its wildcards escaped); the exact test is made here."""
    escaped = ref.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    rows = Sample._meta.database.execute_sql(sql_text, (escaped + "%",)).fetchall()
    return [r for r in rows if ref.lower() in _names(Location.path.python_value(r[-1]))]


def _names(path: str) -> tuple[str, str]:
    name = os.path.basename(path).lower()
    return name, os.path.splitext(name)[0]


def _ref(row) -> Reference:
    return Reference(row[0], row[1], None if row[2] is None else Location.path.python_value(row[2]))


def ranked(query: Query, index: SimilarIndex | None = None, aspect: str = "all",
           limit: int | None = None) -> list[dict]:
    """The sounds the rest of `query` selects, most like its like: REF first, at most `limit`,
    each row with its `distance` (smaller is more alike)."""
    return _ranked(reference(query.like), query.without_like(), index, aspect, limit)


def _ranked(ref: Reference, rest: Query, index: SimilarIndex | None, aspect: str, limit: int | None) -> list[dict]:
    index, vector = _looked_up(ref, index, aspect)
    if not rest.clauses:
        return _nearest_present(index, vector, ref.sound, aspect, limit)
    rows = {sound_of(r): r for r in search.sounds(rest)}
    return _with_distances(index.nearest(vector, limit, aspect, among=rows, exclude={ref.sound}), rows)


def _looked_up(ref: Reference, index: SimilarIndex | None, aspect: str):
    """(the index, REF's vector), or a one-line error."""
    if aspect not in embedding.ASPECT_NAMES:
        raise QueryError(f"unknown aspect {aspect!r} (aspects: {', '.join(embedding.ASPECT_NAMES)})")
    if index is None:  # the daemon's live index in its process, else the vectors read for this search
        index = similar_index.for_reading(Sample._meta.database)
    vector = index.vector(ref.sound)
    if vector is None:
        raise UnknownReference(f"{ref.path or ref.sample_id}: that sound has no similarity vector yet (an older sp404d "
                               f"analysed it; the daemon re-analyses it when idle, or run `sp404d import --reanalyse`)")
    return index, vector


def _nearest_present(index: SimilarIndex, vector, exclude: int, aspect: str, limit: int | None,
                     only: Query = Query()) -> list[dict]:
    """No other terms (or only `only`'s, a cheap filter such as the kind): the nearest sounds of the
    index, asking the library only for those, and looking further while too few of them have a
    file present and pass `only` (a library rarely has many gone)."""
    k = 2 * (limit or 0) + 8
    while limit is not None and k <= WIDEST:
        hits = index.nearest(vector, k, aspect, exclude={exclude})
        rows = {sound_of(r): r for r in search.sounds(only, groups=[s for s, _ in hits])}
        found = _with_distances(hits, rows)
        if len(found) >= limit or len(hits) < k:
            return found[:limit]
        k *= 4
    rows = {sound_of(r): r for r in search.sounds(only)}
    return _with_distances(index.nearest(vector, limit, aspect, among=rows, exclude={exclude}), rows)


def _with_distances(hits: list[tuple[int, float]], rows: dict[int, dict]) -> list[dict]:
    return [{**rows[s], "distance": round(d, 4)} for s, d in hits if s in rows]


def similar(ref: str, limit: int = 20, aspect: str = "all", index: SimilarIndex | None = None,
            any_kind: bool = False) -> dict:
    """What `sp404d similar` and the socket's `similar` answer: the reference and its sounds. A
    one-shot's sounds are one-shots and a loop's are loops (a kick asked about wants kicks, not
    the drum loops whose spectrum is mostly kick), unless `any_kind`."""
    if not isinstance(ref, str) or not ref:
        raise QueryError('"ref" must be a sample id, a path or a file name')
    if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
        raise QueryError('"limit" must be a whole number of at least 1')
    if not isinstance(any_kind, bool):
        raise QueryError('"any_kind" must be true or false')
    r = reference(ref)
    kind = None if any_kind else _kind_of(r)
    only = parse(f"kind:{kind}") if kind else Query()
    index, vector = _looked_up(r, index, aspect)
    sounds = _nearest_present(index, vector, r.sound, aspect, limit, only)
    return {"reference": _shown(r), "aspect": aspect, "kind": kind, "sounds": sounds}


def _shown(r: Reference) -> dict:
    return {"sample_id": r.sample_id, "sound": r.sound, "path": r.path}


def _kind_of(r: Reference) -> str | None:
    row = Sample._meta.database.execute_sql("SELECT kind FROM sample WHERE id = ?", (r.sample_id,)).fetchone()
    return row[0] if row and row[0] in ("loop", "one-shot") else None
