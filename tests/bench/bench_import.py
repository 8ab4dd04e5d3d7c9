"""Benchmark (not a test): files/s of `sp404d import` on a folder, and how many write
transactions it took. Runs the real CLI on a fresh library each round.

    python tests/bench/bench_import.py CORPUS [--workers 2] [--rounds 1]

Build the dev corpus with ../shared/corpus/build_dev_corpus.sh OUT first.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def run_once(corpus: Path, workers: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="sp4bench-") as tmp:
        cfg = Path(tmp) / "sp404d.toml"
        cfg.write_text(f'[library]\npath = "{tmp}/library.db"\n[watch]\nfolders = ["{tmp}/drop"]\n'
                       f'[analysis]\nworkers = {workers}\n[control]\nsocket = "{tmp}/run/s.sock"\n')
        env = {**os.environ, "SP404D_CONFIG": str(cfg)}
        t = time.perf_counter()
        out = subprocess.run([sys.executable, "-m", "sp404d", "import", str(corpus), "--json"],
                             capture_output=True, text=True, env=env, check=True).stdout
        wall = time.perf_counter() - t
        job = json.loads(out)
        return {"files": job["seen"], "wall_s": wall, "pipeline_s": job["elapsed"], "recorded": job["recorded"],
                "failed": job["failed"], "duplicates": job["duplicates"], "transactions": job.get("transactions")}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("corpus", type=Path)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=1)
    args = ap.parse_args()
    print(f"{'round':>5} {'files':>6} {'wall s':>7} {'files/s (wall)':>15} {'files/s (pipeline)':>19} "
          f"{'recorded':>9} {'failed':>7} {'dupes':>6} {'transactions':>13}")
    for i in range(args.rounds):
        r = run_once(args.corpus, args.workers)
        print(f"{i + 1:>5} {r['files']:>6} {r['wall_s']:>7.2f} {r['files'] / r['wall_s']:>15.1f} "
              f"{r['files'] / r['pipeline_s']:>19.1f} {r['recorded']:>9} {r['failed']:>7} {r['duplicates']:>6} "
              f"{r['transactions']:>13}")


if __name__ == "__main__":
    main()
