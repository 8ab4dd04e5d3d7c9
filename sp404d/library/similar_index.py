"""The vectors of the library's sounds, in memory, for "more like this".

A *sound* is a dedupe group, known by its id (the group id: the id of its canonical sample). Its
vector is its canonical member's embedding (another member's when the canonical one has none yet:
an older analyser described it). Vectors whose length is not the analyser's current
embedding.DIM are stale (made by another analyser version) and left out until re-analysis.

Distances are analysis.embedding.distances() and nothing else: plain numpy over one float32
matrix. Over many rows the candidates are first picked with embedding.rough_sq (one matrix-vector
product against each row's squared norm, kept here per aspect), with a margin for its rounding,
and only they are measured exactly: the same answer, ~10x cheaper than the difference form over
the whole matrix (which took 14-24 ms at 100,000 sounds of 86-110 dimensions on a loaded machine;
tests/bench/bench_similar_lookup.py), so no approximate index is needed.

Threads: the writer thread loads it (at start) and refreshes the groups a commit touched; any
thread reads. One lock guards the arrays; a reader holds it only while computing distances over
a view, the writer only while it copies in a few rows.
"""

from __future__ import annotations

import threading
from typing import Iterable

import numpy as np

from sp404d import logs
from sp404d.analysis import embedding

log = logs.get("similar")

Hit = tuple[int, float]  # (sound id, distance): smaller is more alike

# the sounds' vectors: per group, the canonical member's first, then the lowest sample id's
_ROWS = ("SELECT COALESCE(group_id, id), embedding FROM sample WHERE embedding IS NOT NULL{where} "
         "ORDER BY COALESCE(group_id, id), (COALESCE(group_id, id) = id) DESC, id")


class SimilarIndex:
    def __init__(self):
        self._lock = threading.Lock()
        self._ids = np.empty(0, dtype=np.int64)
        self._matrix = np.empty((0, embedding.DIM), dtype=np.float32)
        self._norms = np.empty((0, len(embedding.ASPECT_NAMES)), dtype=np.float32)  # embedding.sq_norms per row
        self._n = 0                    # rows in use (the arrays grow by doubling)
        self._pos: dict[int, int] = {}  # sound id -> row
        self.ready = threading.Event()  # set once the library has been loaded

    def __len__(self) -> int:
        return self._n

    def __contains__(self, sound: int) -> bool:
        return sound in self._pos

    # -- the writer's side --
    def load(self, db) -> "SimilarIndex":
        """Every sound's vector, as the library holds them (at start, and after a rollback)."""
        vectors = _vectors(db.execute_sql(_ROWS.format(where="")))
        ids = np.fromiter(vectors, dtype=np.int64, count=len(vectors))
        matrix = np.array(list(vectors.values()), dtype=np.float32).reshape(len(vectors), embedding.DIM)
        norms = embedding.sq_norms(matrix)
        with self._lock:
            self._ids, self._matrix, self._norms, self._n = ids, matrix, norms, len(ids)
            self._pos = {int(i): row for row, i in enumerate(ids)}
        self.ready.set()
        return self

    def after_commit(self, db, sounds: Iterable[int]) -> None:
        """The writer's call after each commit. A failure here must not stop the writer: the
        index is loaded afresh instead (and stays as it was if even that fails, until the next)."""
        try:
            self.refresh(db, sounds)
        except Exception:
            log.exception("refreshing the similarity index failed; loading it again")
            try:
                self.load(db)
            except Exception:
                log.exception("loading the similarity index failed")

    def refresh(self, db, sounds: Iterable[int]) -> None:
        """Read again the vectors of these sounds (group ids, and sample ids that may have been
        one): a sound that no longer exists, or has no vector, leaves the index."""
        sounds = sorted(set(sounds))
        for at in range(0, len(sounds), 500):  # SQLite's bound-parameter limit
            part = sounds[at:at + 500]
            marks = ",".join("?" * len(part))
            found = _vectors(db.execute_sql(_ROWS.format(where=f" AND COALESCE(group_id, id) IN ({marks})"), part))
            with self._lock:
                for sound in part:
                    if sound in found:
                        self._set(sound, found[sound])
                    else:
                        self._drop(sound)

    def _set(self, sound: int, vector: np.ndarray) -> None:
        row = self._pos.get(sound)
        if row is None:
            if self._n == len(self._ids):  # full: double (amortised O(1) per sound)
                size = max(64, 2 * self._n)
                self._ids = np.resize(self._ids, size)
                grown = np.zeros((size, embedding.DIM), dtype=np.float32)
                grown[:self._n] = self._matrix[:self._n]
                self._matrix = grown
                norms = np.zeros((size, self._norms.shape[1]), dtype=np.float32)
                norms[:self._n] = self._norms[:self._n]
                self._norms = norms
            row = self._n
            self._n += 1
            self._pos[sound] = row
            self._ids[row] = sound
        self._matrix[row] = vector
        self._norms[row] = embedding.sq_norms(self._matrix[row:row + 1])[0]

    def _drop(self, sound: int) -> None:
        row = self._pos.pop(sound, None)
        if row is None:
            return
        last = self._n - 1
        if row != last:  # the last row fills the hole
            moved = int(self._ids[last])
            self._ids[row] = moved
            self._matrix[row] = self._matrix[last]
            self._norms[row] = self._norms[last]
            self._pos[moved] = row
        self._n = last

    # -- readers (any thread) --
    def vector(self, sound: int) -> np.ndarray | None:
        with self._lock:
            row = self._pos.get(sound)
            return None if row is None else self._matrix[row].copy()

    def nearest(self, vector: np.ndarray, k: int | None = 10, aspect: str = "all",
                among: Iterable[int] | None = None, exclude: Iterable[int] = ()) -> list[Hit]:
        """The `k` sounds nearest `vector` (all when k is None), nearest first, ties by id;
        only those in `among` (when given), never those in `exclude`."""
        q = np.asarray(vector, dtype=np.float32)
        exclude = list(exclude)
        embedding.weights(aspect)  # an unknown aspect is refused here, with the known ones named
        with self._lock:
            if among is None:
                rows = None
                matrix, norms = self._matrix[:self._n], self._norms[:self._n]
            else:
                rows = np.fromiter((self._pos[s] for s in set(among) if s in self._pos), dtype=np.int64)
                matrix, norms = self._matrix[rows], self._norms[rows]
            ids = self._ids[:self._n] if rows is None else self._ids[rows]
            wanted = None if k is None else k + len(exclude)  # the excluded may be among the nearest
            if wanted is not None and 0 < wanted < len(ids) // 4:
                column = embedding.ASPECT_NAMES.index(aspect)
                d2, err = embedding.rough_sq(q, matrix, norms[:, column], aspect)
                cut = np.partition(d2, wanted - 1)[wanted - 1]
                # every row whose exact distance can reach the wanted-th: within twice the rounding
                picked = np.flatnonzero(d2 <= cut + 2.0 * err)
                ids, matrix = ids[picked], matrix[picked]
            ids = ids.copy()
            d = embedding.distances(q, matrix, aspect)
        return _top(ids, d, k, exclude)


# The daemon's index, kept current by its writer (Engine publishes it while it runs): whatever
# reads similarity in that process (`similar`, a like: pad during a card sync, `kit fill`) uses it
# instead of reading every vector from the library again.
_live: SimilarIndex | None = None


def publish(index: SimilarIndex | None) -> None:
    global _live
    _live = index


def for_reading(db) -> SimilarIndex:
    """The process's live index once it is loaded; else one read from the library now (a CLI
    without a daemon: ~0.4 s CPU per 100,000 vectors)."""
    live = _live
    if live is not None and live.ready.is_set():
        return live
    return SimilarIndex().load(db)


def _vectors(rows) -> dict[int, np.ndarray]:
    """sound id -> vector from (sound id, blob) rows ordered best member first."""
    found: dict[int, np.ndarray] = {}
    for sound, blob in rows:
        if sound in found:
            continue
        v = embedding.unpack(bytes(blob))
        if v.shape == (embedding.DIM,):  # a vector of another analyser's layout waits for re-analysis
            found[sound] = v
    return found


def _top(ids: np.ndarray, d: np.ndarray, k: int | None, exclude: Iterable[int]) -> list[Hit]:
    exclude = list(exclude)
    if exclude:
        keep = ~np.isin(ids, np.fromiter(exclude, dtype=np.int64, count=len(exclude)))
        ids, d = ids[keep], d[keep]
    if k is not None and k < len(d):
        if k <= 0:
            return []
        cut = np.partition(d, k - 1)[k - 1]  # every row as near as the k-th, so ties are broken by id
        part = np.flatnonzero(d <= cut)
        ids, d = ids[part], d[part]
    order = np.lexsort((ids, d))[:k]
    return [(int(ids[i]), float(d[i])) for i in order]
