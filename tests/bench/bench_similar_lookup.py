"""How long one "more like this" lookup takes over N sounds (default 100,000; the goal is <= 20 ms).

Synthetic vectors of the analyser's current size (embedding.DIM) in a SimilarIndex, as the daemon
holds them; a lookup is SimilarIndex.nearest() (embedding.distances over the matrix, then
argpartition). CPU time (time.process_time, tolerant of a loaded machine), median of the repeats,
for each aspect, for the whole library and for a candidate set of a tenth (a `like:` with other terms).

    PYTHONPATH=$PWD python tests/bench/bench_similar_lookup.py [--sounds 100000] [--repeats 50]
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
        index._n = n
        index._pos = {i: i - 1 for i in range(1, n + 1)}
    return index


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


if __name__ == "__main__":
    main()
