"""Where to look for a near duplicate, without comparing against every sample.

Raw fingerprint bits cannot be indexed by exact bit patterns (multi-index hashing): copies of one
sound differ in up to 30 % of their bits, so no sub-block survives intact often enough. Instead each
sample has a coarse key (fingerprint.coarse: the level envelope and low spectrum of its waveform
shape, 28 floats) and its trimmed duration. A lookup keeps the samples whose durations agree, ranks
them by distance between keys, and hands the nearest few to the full comparison
(fingerprint.near_duplicate), nearest first. The arrays stay in memory in the writer thread:
128 bytes per sample, 13 MB for 100,000 samples.

Pure: no DB, no threads. The writer owns one and fills it from the library at start.
"""

from __future__ import annotations

import numpy as np

from sp404d.analysis.fingerprint import COARSE_DIMS, DURATION_RATIO, DURATION_SLACK

CANDIDATES = 16  # measured in tests/bench/bench_dedupe.py: the true match is nearly always first


class NearIndex:
    def __init__(self, capacity: int = 1024):
        self.n = 0
        self._ids = np.empty(capacity, np.int64)
        self._log_durations = np.empty(capacity, np.float32)
        self._durations = np.empty(capacity, np.float32)
        self._keys = np.empty((capacity, COARSE_DIMS), np.float32)
        self._known: set[int] = set()

    def __len__(self) -> int:
        return self.n

    def __contains__(self, sample_id: int) -> bool:
        return sample_id in self._known

    def add(self, sample_id: int, duration: float, key: np.ndarray) -> None:
        if sample_id in self._known:
            return
        if self.n == self._ids.size:  # grow by doubling: amortised O(1)
            grow = self._ids.size
            self._ids = np.concatenate([self._ids, np.empty(grow, np.int64)])
            self._log_durations = np.concatenate([self._log_durations, np.empty(grow, np.float32)])
            self._durations = np.concatenate([self._durations, np.empty(grow, np.float32)])
            self._keys = np.concatenate([self._keys, np.empty((grow, COARSE_DIMS), np.float32)])
        i = self.n
        self._ids[i] = sample_id
        self._durations[i] = duration
        self._log_durations[i] = np.log(max(duration, 1e-3))
        self._keys[i] = key
        self.n += 1
        self._known.add(sample_id)

    def candidates(self, duration: float, key: np.ndarray, limit: int = CANDIDATES) -> list[int]:
        """Ids of up to `limit` samples whose durations agree with `duration`, nearest key first."""
        if self.n == 0:
            return []
        n = self.n
        agree = ((np.abs(self._log_durations[:n] - np.log(max(duration, 1e-3))) < np.log(DURATION_RATIO))
                 | (np.abs(self._durations[:n] - duration) < DURATION_SLACK))
        rows = np.flatnonzero(agree)
        if rows.size == 0:
            return []
        dist = ((self._keys[rows] - key) ** 2).sum(axis=1)
        if rows.size > limit:
            keep = np.argpartition(dist, limit)[:limit]
            rows, dist = rows[keep], dist[keep]
        return [int(i) for i in self._ids[rows[np.argsort(dist, kind="stable")]]]
