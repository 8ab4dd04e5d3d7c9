"""How long one "more like this" lookup takes over N sounds (default 100,000; the goal is <= 20 ms).

Synthetic vectors of the analyser's current size (embedding.DIM) in a SimilarIndex, as the daemon
holds them; a lookup is SimilarIndex.nearest() (embedding.distances over the matrix, then
argpartition). CPU time (time.process_time, tolerant of a loaded machine), median of the repeats,
for each aspect, for the whole library and for a candidate set of a tenth (a `like:` with other terms).

    PYTHONPATH=$PWD python tests/bench/bench_similar_lookup.py [--sounds 100000] [--repeats 50] [--load]

--load also times reading every vector from a real SQLite library of that many sounds (what the
daemon does at start, and `sp404d similar` without a daemon on each call).
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from sp404d.analysis import embedding
from sp404d.library.similar_index import SimilarIndex


def build(n: int, seed: int = 0) -> SimilarIndex:
    rng = np.random.default_rng(seed)
    index = SimilarIndex()
    m = rng.normal(size=(n, embedding.DIM)).astype(np.float16).astype(np.float32)
    with index._lock:  # what load() makes from the library, without a library
        index._ids = np.arange(1, n + 1, dtype=np.int64)
        index._matrix = m
        index._norms = embedding.sq_norms(m)
        index._n = n
        index._pos = {i: i - 1 for i in range(1, n + 1)}
    return index


def load_time(n: int) -> tuple[float, float]:
    """(CPU ms, wall ms) of SimilarIndex.load over a library file of n sounds with vectors."""
    import tempfile
    from pathlib import Path

    from sp404d.library.schema import open_library

    with tempfile.TemporaryDirectory() as tmp:
        db = open_library(Path(tmp) / "lib.db")
        rng = np.random.default_rng(2)
        with db.atomic():
            db.execute_sql("PRAGMA foreign_keys = OFF")
            rows = ((i, f"h{i}", 44100, 1, "PCM_16", 4410, 0.1, 9, 0.0, i, 1,
                     embedding.pack(rng.normal(size=embedding.DIM))) for i in range(1, n + 1))
            db.connection().executemany(
                "INSERT INTO sample (id, pcm_hash, samplerate, channels, subtype, frames, duration, analysis_version, "
                "created_at, group_id, canonical, embedding) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", rows)
        t, w = time.process_time(), time.perf_counter()
        index = SimilarIndex().load(db)
        cpu, wall = (time.process_time() - t) * 1000, (time.perf_counter() - w) * 1000
        assert len(index) == n
        db.close()
    return cpu, wall


def timed(fn, repeats: int) -> float:
    samples = []
    for _ in range(repeats):
        t = time.process_time()
        fn()
        samples.append(time.process_time() - t)
    return statistics.median(samples) * 1000


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sounds", type=int, default=100_000)
    ap.add_argument("--repeats", type=int, default=50)
    ap.add_argument("--k", type=int, default=50)
    ap.add_argument("--load", action="store_true", help="also time loading the vectors from a library")
    args = ap.parse_args()
    index = build(args.sounds)
    rng = np.random.default_rng(1)
    among = set(rng.choice(np.arange(1, args.sounds + 1), args.sounds // 10, replace=False).tolist())
    print(f"{args.sounds} sounds, DIM {embedding.DIM}, k {args.k}, median of {args.repeats} (CPU ms)")
    for aspect in embedding.ASPECT_NAMES:
        q = index.vector(int(rng.integers(1, args.sounds + 1)))
        whole = timed(lambda: index.nearest(q, args.k, aspect, exclude={1}), args.repeats)
        part = timed(lambda: index.nearest(q, args.k, aspect, among=among, exclude={1}), args.repeats)
        print(f"  {aspect:<9} whole library {whole:6.2f} ms   among {len(among)} {part:6.2f} ms")
    if args.load:
        cpu, wall = load_time(args.sounds)
        print(f"loading {args.sounds} vectors from a library: {cpu:.0f} ms CPU, {wall:.0f} ms wall")


if __name__ == "__main__":
    main()
