"""Benchmark (not a test): the old per-file librosa pipeline against `sp404d import`, on the
same files, with the same number of cores, in one run.

    python tests/bench/bench_speed.py CORPUS [--procs 2] [--rounds 3] [--baseline ../shared/bench/seed_baseline.py]

The baseline runs as `procs` processes, each on its share of the files; its first file per
process (numba JIT, ~20-35 s) is excluded from its time. sp404d runs `sp404d import CORPUS` with
`procs` workers on a fresh library, `rounds` times (its rate varies by ~15 % from run to run on
this machine): the median round is reported, with the range, both on wall clock (including start-up
and worker warm-up) and on the pipeline's own clock.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve()
sys.path.insert(0, str(HERE.parent))
from bench_import import run_once  # noqa: E402

DEFAULT_BASELINE = HERE.parents[3] / "shared" / "bench" / "seed_baseline.py"
AUDIO = {".wav", ".flac", ".ogg", ".aif", ".aiff", ".mp3", ".m4a"}


def baseline(files: list[str], procs: int, script: Path) -> dict:
    shares = [files[i::procs] for i in range(procs)]
    runs = [subprocess.Popen([sys.executable, str(script), *share], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                             text=True)
            for share in shares]
    per_process = []
    errors = 0
    for run in runs:
        rows = [json.loads(line) for line in run.stdout if line.startswith("{")]
        run.wait()
        files_rows = [r for r in rows if "file" in r]
        errors += sum("error" in r for r in files_rows)
        per_process.append((len(files_rows) - 1, sum(r["seconds"] for r in files_rows[1:]), files_rows[0]["seconds"]))
    counted = sum(n for n, _, _ in per_process)
    busiest = max(t for _, t, _ in per_process)  # processes run side by side: the slowest sets the pace
    return {"files": counted, "seconds": busiest, "files_per_s": counted / busiest, "errors": errors,
            "first_file_jit_s": [round(j, 1) for _, _, j in per_process]}


def sp404d(corpus: Path, procs: int) -> dict:
    r = run_once(corpus, procs)  # `sp404d import CORPUS --json` on a fresh library, as bench_import does
    return {**r, "wall_files_per_s": r["files"] / r["wall_s"], "pipeline_files_per_s": r["files"] / r["pipeline_s"]}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("corpus", type=Path)
    ap.add_argument("--procs", type=int, default=2)
    ap.add_argument("--baseline", type=Path, default=DEFAULT_BASELINE)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--skip-baseline", action="store_true")
    args = ap.parse_args()
    files = sorted(str(p) for p in args.corpus.rglob("*") if p.is_file() and p.suffix.lower() in AUDIO)
    rounds = sorted((sp404d(args.corpus, args.procs) for _ in range(max(1, args.rounds))),
                    key=lambda r: r["pipeline_files_per_s"])
    for s in rounds:
        print(f"sp404d import:  {s['files']} files, {s['wall_s']:.1f} s wall ({s['wall_files_per_s']:.1f} files/s), "
              f"{s['pipeline_s']:.2f} s pipeline ({s['pipeline_files_per_s']:.1f} files/s), failed {s['failed']}, "
              f"{s['files'] / s['wall_s'] * 3600:,.0f} files/hour")
    s = rounds[len(rounds) // 2]
    print(f"sp404d median of {len(rounds)} rounds: {s['pipeline_files_per_s']:.1f} files/s on the pipeline clock "
          f"(range {rounds[0]['pipeline_files_per_s']:.1f}-{rounds[-1]['pipeline_files_per_s']:.1f}), "
          f"{s['wall_files_per_s']:.1f} files/s on wall clock")
    if args.skip_baseline:
        return
    b = baseline(files, args.procs, args.baseline)
    print(f"seed baseline:  {b['files']} files in {b['seconds']:.1f} s ({b['files_per_s']:.2f} files/s, "
          f"{args.procs} processes, first-file JIT excluded: {b['first_file_jit_s']} s), errors {b['errors']}")
    print(f"speed-up (median round): {s['wall_files_per_s'] / b['files_per_s']:.1f}x on wall clock, "
          f"{s['pipeline_files_per_s'] / b['files_per_s']:.1f}x on the pipeline clock "
          f"(slowest round {rounds[0]['pipeline_files_per_s'] / b['files_per_s']:.1f}x)")


if __name__ == "__main__":
    main()
