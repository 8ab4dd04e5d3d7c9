"""Benchmark (not a test): where the CPU of an import goes, on Linux. On 2 cores every CPU-second
anywhere (writer, intake, workers) slows the import, so this is the profile to read before
optimising.

    python tests/bench/bench_cpu_split.py CORPUS [--workers 2]

Prints (1) analysis CPU per file in this one process (warmed; best of 3 passes), and (2) an import
of CORPUS into a fresh library by an in-process engine with its worker pool: CPU seconds of each
main-process thread and of each worker, read from /proc, against the pipeline's own clock.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

# one BLAS thread, as the pool gives its workers; set before numpy is first imported
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
AUDIO = {".wav", ".flac", ".ogg", ".aif", ".aiff", ".mp3", ".m4a"}
TICK = os.sysconf("SC_CLK_TCK")


def _cpu(stat_path: str) -> float:
    fields = open(stat_path).read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime + stime


def _threads() -> dict[str, float]:
    names = {t.native_id: t.name for t in threading.enumerate()}
    task = f"/proc/{os.getpid()}/task"
    return {names.get(int(tid), tid): _cpu(f"{task}/{tid}/stat") for tid in os.listdir(task)}


def _children() -> list[int]:
    me = str(os.getpid())
    kids = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[1] == me:
                kids.append(int(pid))
        except OSError:
            pass
    return kids


def analysis_per_file(files: list[str]) -> float:
    from sp404d.analysis import worker

    worker.warm_up()
    for f in files[:30]:
        worker.analyse(f, 1 << 31)
    best = float("inf")
    for _ in range(3):
        t = time.process_time()
        for f in files:
            worker.analyse(f, 1 << 31)
        best = min(best, time.process_time() - t)
    return best / len(files)


def import_split(corpus: Path, workers: int) -> None:
    from sp404d.config import load
    from sp404d.engine import Engine

    with tempfile.TemporaryDirectory(prefix="sp4cpu-") as tmp:
        cfg_path = Path(tmp) / "sp404d.toml"
        cfg_path.write_text(f'[library]\npath = "{tmp}/library.db"\n[watch]\nfolders = ["{tmp}/drop"]\n'
                            f'[analysis]\nworkers = {workers}\n[control]\nsocket = "{tmp}/run/s.sock"\n')
        os.environ["SP404D_CONFIG"] = str(cfg_path)
        engine = Engine(load(), "import")
        engine.start()
        kids = _children()
        before_threads, before_kids = _threads(), {p: _cpu(f"/proc/{p}/stat") for p in kids}
        job = engine.scan([str(corpus)], kind="import", wait=True)
        engine.writer.flush(60)
        after_threads, after_kids = _threads(), {p: _cpu(f"/proc/{p}/stat") for p in kids}
        engine.stop()
    done = job.as_dict()
    spent = {n: after_threads[n] - before_threads.get(n, 0.0) for n in after_threads}
    kid_spent = [after_kids[p] - before_kids[p] for p in kids if after_kids[p] - before_kids[p] > 0]
    print(f"import: {done['seen']} files in {done['elapsed']:.2f} s on the pipeline clock "
          f"({done['seen'] / done['elapsed']:.0f} files/s)")
    print(f"  main process: {sum(spent.values()):.2f} s CPU: " + ", ".join(
        f"{n} {v:.2f}" for n, v in sorted(spent.items(), key=lambda kv: -kv[1]) if v >= 0.01))
    print(f"  workers: {sum(kid_spent):.2f} s CPU (" + ", ".join(f"{v:.2f}" for v in kid_spent) + ")")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("corpus", type=Path)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    files = sorted(str(p) for p in args.corpus.rglob("*") if p.is_file() and p.suffix.lower() in AUDIO)
    print(f"analysis CPU per file, one process, best of 3 passes over {len(files)} files: "
          f"{1000 * analysis_per_file(files):.2f} ms")
    import_split(args.corpus, args.workers)


if __name__ == "__main__":  # the pool spawns its workers: nothing above may run on import
    main()
