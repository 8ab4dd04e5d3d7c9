"""Benchmark (not a test): how long a sync to a real FAT32 card takes, and what it writes.

    python tests/bench/bench_card.py CORPUS [--files 200]

Imports `--files` files of CORPUS (every n-th, so all kinds are in) into a fresh library, makes a
FAT32 image (mkfs.vfat) mounted with fusefat as the tests do, and times, with the packaged kits
(DRUMS by rules, NEW the 16 newest samples):
  1. the first sync (every pad rendered and written);
  2. a sync with nothing changed;
  3. a sync after one more sample arrives (NEW shifts by one pad: renames, one write);
  4. a sync after the NEW folder's files were deleted on the device (16 pads rendered and written).
fusefat is a slow userspace FAT driver, so the seconds are for comparing rows, not an SD card's speed.
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

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from fixtures import card as fat  # noqa: E402
from fixtures.audio import hit, write  # noqa: E402

AUDIO = {".wav", ".flac", ".ogg", ".aif", ".aiff", ".mp3", ".m4a"}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("corpus", type=Path)
    ap.add_argument("--files", type=int, default=200)
    args = ap.parse_args()
    why = fat.available()
    if why:
        sys.exit(f"cannot make a FAT card here: {why}")
    files = sorted(p for p in args.corpus.rglob("*") if p.is_file() and p.suffix.lower() in AUDIO)
    files = files[::max(1, len(files) // args.files)][:args.files]
    with tempfile.TemporaryDirectory(prefix="sp4card-") as tmp:
        tmp = Path(tmp)
        lib = tmp / "lib"
        lib.mkdir()
        for i, f in enumerate(files):  # flat, numbered: names from different kits do not collide
            shutil.copy(f, lib / f"{i:04d}_{f.name}")
        cfg = tmp / "sp404d.toml"
        cfg.write_text(f'[library]\npath = "{tmp}/library.db"\n[watch]\nfolders = ["{tmp}/drop"]\n'
                       f'[control]\nsocket = "{tmp}/run/s.sock"\n')
        os.environ["SP404D_CONFIG"] = str(cfg)
        subprocess.run([sys.executable, "-m", "sp404d", "import", str(lib)], check=True, capture_output=True)

        from sp404d import config
        from sp404d.card.sync import Card
        from sp404d.cli_library import library
        from sp404d.kits import resolve

        conf = config.load(cfg)

        def kits():
            with library(conf).connection_context():
                return resolve.all_pads(conf.kits)

        card = fat.FatCard(tmp / "cardspace")
        card.mount()
        try:
            for d in ("IMPORT", "EXPORT", "BKUP"):
                (card.path / d).mkdir(exist_ok=True)

            def timed(what: str) -> None:
                t = time.perf_counter()
                r = Card(card.path).sync(kits())
                took = time.perf_counter() - t
                print(f"{what:<44} {took:6.2f} s  wrote {r.written:2d} ({r.bytes_written / 1e6:5.1f} MB), "
                      f"moved {r.moved:2d}, removed {r.removed:2d}, kept {len(r.plan.keep):2d}, "
                      f"read back {r.bytes_read / 1e6:5.1f} MB"
                      + (f"  ERROR {r.error}" if r.error else ""))

            timed("first sync")
            timed("nothing changed")
            time.sleep(1.1)  # a newer "added" than everything imported so far
            write(tmp / "more" / "zz_new_hit.wav", hit(4242, 0.3))
            subprocess.run([sys.executable, "-m", "sp404d", "import", str(tmp / "more")], check=True,
                           capture_output=True)
            timed("one new sample (NEW shifts by a pad)")
            for p in (card.path / "IMPORT" / "NEW").iterdir():
                p.unlink()
            timed("NEW's files deleted on the device")
        finally:
            card.unmount()


if __name__ == "__main__":
    main()
