"""Benchmark (not a test): seconds from `sp404d run` to its first file recorded.

    python tests/bench/bench_cold_start.py [--rounds 3]

Each round starts a daemon on a fresh library with one new file already in its drop folder
(the startup scan finds it), and reports when status first counts it. Analysis uses no numba
JIT, so there is no compile cache to warm: the cost is process start, imports and worker spawn.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from fixtures import music  # noqa: E402


def status(sock: Path) -> dict | None:
    try:
        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(1)
            s.connect(str(sock))
            s.sendall(b"status\n")
            return json.loads(s.makefile().readline())
    except OSError:
        return None


def round_trip() -> tuple[float, float]:
    with tempfile.TemporaryDirectory(prefix="sp4cold-") as tmp:
        tmp = Path(tmp)
        cfg = tmp / "c.toml"
        cfg.write_text(f'[library]\npath = "{tmp}/l.db"\n[watch]\nfolders = ["{tmp}/drop"]\n'
                       f'[analysis]\nworkers = 2\n[control]\nsocket = "{tmp}/run/s.sock"\n')
        music.write(tmp / "drop" / "first.wav", music.render_tonal_oneshot(0, "minor", "chord"))
        t = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-m", "sp404d", "run"], env={**os.environ, "SP404D_CONFIG": str(cfg)},
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        answered = None
        try:
            while time.perf_counter() - t < 60:
                s = status(tmp / "run" / "s.sock")
                if s and answered is None:
                    answered = time.perf_counter() - t
                if s and s["totals"]["locations"] >= 1:
                    return answered, time.perf_counter() - t
                time.sleep(0.05)
            raise SystemExit("no file recorded within 60 s")
        finally:
            proc.terminate()
            proc.wait(20)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    for i in range(args.rounds):
        answered, recorded = round_trip()
        print(f"round {i + 1}: socket answers after {answered:.2f} s, first file recorded after {recorded:.2f} s")


if __name__ == "__main__":
    main()
