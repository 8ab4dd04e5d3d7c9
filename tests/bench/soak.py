"""The long part of the reliability suite (not a test; it prints figures).

    python tests/bench/soak.py drop --files 10000        # RSS and rate through a 10,000-file drop
    python tests/bench/soak.py reconcile --files 100000  # restart with 100,000 files known

drop: a real daemon (2 workers) watches a folder; 10,000 generated one-shots are copied in. Every
0.5 s the resident memory of the daemon and its workers is summed (from /proc) and the recorded
count read from the socket. Prints peak RSS, and files/s over the first and the last fifth.

reconcile: 100,000 files (hard links of a few small WAVs, so building them is quick) are imported,
then the daemon is started on them: its start-up walk must find all of them unchanged, opening no
audio. Prints how long that walk took and what it counted.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from fixtures.audio import hit, make_pack, write  # noqa: E402
from sp404d.control.client import Client  # noqa: E402


def config(root: Path, drop: Path) -> Path:
    path = root / "sp404d.toml"
    path.write_text(f'[library]\npath = "{root}/lib/library.db"\n[watch]\nfolders = ["{drop}"]\n'
                    f'settle_seconds = 0.5\nrescan_minutes = 0\n[analysis]\nworkers = 2\n'
                    f'[control]\nsocket = "{root}/run/sp404d.sock"\n[cards]\nmount_roots = []\n')
    (root / "run").mkdir(mode=0o700)
    return path


def rss_kb(pid: int) -> int:
    """Resident memory of a process and all its descendants, from /proc."""
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        try:
            with open(f"/proc/{p}/status") as f:
                total += next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as f:
                    todo += [int(c) for c in f.read().split()]
        except (OSError, StopIteration):
            continue
    return total


def start(cfg: Path, log: Path) -> subprocess.Popen:
    env = {**os.environ, "SP404D_CONFIG": str(cfg)}
    proc = subprocess.Popen([sys.executable, "-m", "sp404d", "run"], env=env, stdout=open(log, "a"),
                            stderr=subprocess.STDOUT)
    sock = cfg.parent / "run" / "sp404d.sock"
    while True:
        try:
            with Client(sock, timeout=2) as c:
                if c.request("status")["state"] != "starting":
                    return proc
        except Exception:
            time.sleep(0.2)


def status(cfg: Path) -> dict:
    with Client(cfg.parent / "run" / "sp404d.sock", timeout=10) as c:
        return c.request("status")


def drop(n: int) -> None:
    with tempfile.TemporaryDirectory(prefix="sp4soak-") as tmp:
        root = Path(tmp)
        source, dest = root / "source", root / "drop"
        dest.mkdir()
        t = time.perf_counter()
        pack = make_pack(source, n, seed=77, lossy=False)
        print(f"generated {len(pack.files)} files ({pack.sounds} sounds) in {time.perf_counter() - t:.0f} s")
        cfg = config(root, dest)
        proc = start(cfg, root / "daemon.log")
        samples = []  # (time, recorded+failed, rss kB)
        t0 = time.monotonic()
        shutil.copytree(source, dest, dirs_exist_ok=True)
        print(f"copied into the drop folder in {time.monotonic() - t0:.0f} s")
        while True:
            s = status(cfg)
            done = s["totals"]["locations"] + s["totals"]["failed"]
            samples.append((time.monotonic() - t0, done, rss_kb(proc.pid)))
            if done >= len(pack.files) and s["state"] == "idle":
                break
            time.sleep(0.5)
        proc.terminate()
        proc.wait(30)
    total_time = samples[-1][0]
    fifth = len(pack.files) // 5

    def rate(lo: int, hi: int) -> float:
        a = next(x for x in samples if x[1] >= lo)
        b = next(x for x in samples if x[1] >= hi)
        return (b[1] - a[1]) / max(b[0] - a[0], 1e-3)

    first, last = rate(0, fifth), rate(len(pack.files) - fifth, len(pack.files))
    print(f"{len(pack.files)} files recorded in {total_time:.0f} s ({len(pack.files) / total_time:.0f} files/s)")
    print(f"peak RSS, daemon + workers: {max(x[2] for x in samples) / 1024:.0f} MB")
    print(f"files/s, first fifth: {first:.0f}; last fifth: {last:.0f} ({100 * last / first:.0f} % of the start)")


def reconcile(n: int) -> None:
    with tempfile.TemporaryDirectory(prefix="sp4soak-") as tmp:
        root = Path(tmp)
        lib = root / "lib-files"
        originals = [write(root / "orig" / f"o{i}.wav", hit(i, 0.05)) for i in range(20)]
        t = time.perf_counter()
        for i in range(n):
            folder = lib / f"{i // 1000:03d}"
            if i % 1000 == 0:
                folder.mkdir(parents=True)
            os.link(originals[i % len(originals)], folder / f"f{i:06d}.wav")
        print(f"made {n} files in {time.perf_counter() - t:.0f} s")
        cfg = config(root, lib)
        env = {**os.environ, "SP404D_CONFIG": str(cfg)}
        t = time.perf_counter()
        r = subprocess.run([sys.executable, "-m", "sp404d", "import", str(lib), "--json"], env=env,
                           capture_output=True, text=True)
        print(f"imported in {time.perf_counter() - t:.0f} s: {r.stdout.strip()[:200]}")
        proc = start(cfg, root / "daemon.log")
        while True:
            with Client(cfg.parent / "run" / "sp404d.sock", timeout=10) as c:
                job = c.request("job", id=1)["job"]  # the first job of a daemon is its start-up walk
            assert job["kind"] == "startup-scan", job
            if job["done"]:
                break
            time.sleep(0.2)
        proc.terminate()
        proc.wait(30)
    print(f"start-up walk over {job['seen']} known files: {job['elapsed']:.1f} s; unchanged {job['unchanged']}, "
          f"analysed {job['analysed']} (no audio opened)")


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=("drop", "reconcile"))
    ap.add_argument("--files", type=int)
    a = ap.parse_args()
    if a.mode == "drop":
        drop(a.files or 10_000)
    else:
        reconcile(a.files or 100_000)
