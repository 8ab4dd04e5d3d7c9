"""Near-duplicate benchmark on the plain dev corpus (not a test): is every near-duplicate decision
the same recording, and do the groups depend on the order files arrive in?

    python tests/bench/bench_dedupe_corpus.py CORPUS [--orders 5] [--batches 4] [--workers 2]

For each order, the corpus's files are shuffled (seed = order number) and imported with the real
`sp404d import` into a fresh library, in --batches imports of consecutive slices (so the groups are
built across several imports, and within each by two worker processes finishing in their own
order). The grouping is then read back: a digest of every group (its canonical file and its
members' files) per order; they must all be equal.

Every near-duplicate decision of the first order (a sample placed in another sample's group) is
checked with an independent oracle (tests/bench/oracle.py: the whole files decoded, mixed to mono,
resampled to 22,050 Hz with scipy, aligned by cross-correlation with numpy/scipy, gain ignored).
The benchmark prints how many decisions there are, how many the oracle puts below 0.95 (target 0),
and lists every decision with both figures. --library LIB checks a library already made instead
(one made by an older release, say), without importing.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import oracle  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]


def import_in_order(corpus: Path, seed: int, batches: int, workers: int, tmp: Path) -> tuple[Path, float]:
    files = sorted(str(p) for p in corpus.rglob("*") if p.is_file())
    random.Random(seed).shuffle(files)
    cfg = tmp / "sp404d.toml"
    cfg.write_text(f'[library]\npath = "{tmp}/library.db"\n[watch]\nfolders = ["{tmp}/drop"]\n'
                   f'[analysis]\nworkers = {workers}\n[control]\nsocket = "{tmp}/run/s.sock"\n')
    env = {**os.environ, "SP404D_CONFIG": str(cfg)}
    step = -(-len(files) // batches)
    t = time.perf_counter()
    for i in range(0, len(files), step):
        subprocess.run([sys.executable, "-m", "sp404d", "import", *files[i:i + step], "--json"], cwd=ROOT,
                       capture_output=True, text=True, env=env, check=True)
    return tmp / "library.db", time.perf_counter() - t


def groups(library: Path) -> list[tuple[str, list[str], list[tuple[str, float | None, float | None]]]]:
    """(canonical file, every file of the group, [(near member file, bit error rate, correlation)])
    for each group of more than one sample; a sample's file is its first present path."""
    db = sqlite3.connect(library)
    cols = {row[1] for row in db.execute("PRAGMA table_info(sample)")}
    corr = "s.group_correlation" if "group_correlation" in cols else "NULL"
    rows = db.execute(f"""
        SELECT s.group_id, s.id, s.canonical, s.group_distance, {corr}, MIN(l.path)
          FROM sample s JOIN location l ON l.sample_id = s.id AND l.state = 'present'
         WHERE s.group_id IN (SELECT group_id FROM sample GROUP BY group_id HAVING COUNT(*) > 1)
         GROUP BY s.id ORDER BY s.group_id, s.canonical DESC, s.id""").fetchall()
    all_paths = dict(db.execute("SELECT sample_id, GROUP_CONCAT(path, '\n') FROM location "
                                "WHERE state = 'present' GROUP BY sample_id").fetchall())
    out, current = [], None
    for group_id, sample_id, canonical, ber, correlation, path in rows:
        if current is None or current[0] != group_id:
            current = [group_id, path, [], []]
            out.append(current)
        current[2].extend(all_paths[sample_id].split("\n"))
        if not canonical:
            current[3].append((path, ber, correlation))
    return [(head, sorted(paths), near) for _, head, paths, near in out]


def digest(found, corpus: Path) -> str:
    text = "\n".join(f"{os.path.relpath(head, corpus)} <- " + "|".join(os.path.relpath(p, corpus) for p in paths)
                     for head, paths, _ in sorted(found))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def check(found, corpus: Path, show: int) -> None:
    decisions = [(head, p, ber, corr) for head, _, near in found for p, ber, corr in near]
    rows = sorted(((oracle.correlation(head, p), head, p, ber, corr) for head, p, ber, corr in decisions))
    below = [r for r in rows if r[0] < oracle.SAME]
    print(f"near-duplicate decisions: {len(rows)}; below the oracle's {oracle.SAME}: {len(below)}")
    print(f"{'oracle':>7} {'ours':>6} {'fp':>5}  canonical <- member")
    for o, head, p, ber, corr in rows[:show]:
        ours = "  -   " if corr is None else f"{corr:6.3f}"
        fp = "  -  " if ber is None else f"{ber:5.3f}"
        print(f"{o:7.3f} {ours} {fp}  {os.path.relpath(head, corpus)} <- {os.path.relpath(p, corpus)}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("corpus", type=Path)
    ap.add_argument("--orders", type=int, default=5)
    ap.add_argument("--batches", type=int, default=4)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--show", type=int, default=1000, help="list at most this many decisions")
    ap.add_argument("--library", type=Path, help="check this library instead of importing")
    args = ap.parse_args()
    corpus = args.corpus.resolve()
    if args.library:
        check(groups(args.library), corpus, args.show)
        return
    digests, first = [], None
    for order in range(1, args.orders + 1):
        with tempfile.TemporaryDirectory(prefix="sp4order-") as tmp:
            library, seconds = import_in_order(corpus, order, args.batches, args.workers, Path(tmp))
            found = groups(library)
            digests.append(digest(found, corpus))
            members = sum(len(near) for _, _, near in found)
            print(f"order {order} (shuffled, {args.batches} imports, {seconds:.0f} s): {len(found)} groups, "
                  f"{members} near duplicates, digest {digests[-1]}")
            if first is None:
                first = found
    print("identical groups in every order" if len(set(digests)) == 1 else "THE GROUPS DIFFER BETWEEN ORDERS")
    check(first, corpus, args.show)


if __name__ == "__main__":
    main()
