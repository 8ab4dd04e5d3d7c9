"""Benchmark (not a test): loop or one-shot, per set, against the truth of where the files come from.

    python tests/bench/bench_kind.py [--devset /work/devset] [--corpus /work/corpus] [--workers 2]
        [--dump FILE.json] [--timing]

Loops: the real dev set's songloops, hydrogen_songs and tonal_loops (cut on bar lines from songs and
tunes), the dev corpus's lmms/beats and lmms/bassloops. One-shots: the dev set's chords (strums and
piano chords), every Hydrogen kit sample, lmms/drums, basses, instruments and stringsnpads. The
corpus's other LMMS folders (effects, latin, misc, ...) carry no such truth: their loop counts are
printed for information. Every file is analysed by sp404d.analysis.worker.analyse blind (names
hidden); the corpus also with names shown.

--timing: the CPU time (time.process_time) of the wrap-around evidence (rhythm.wrap) against the
whole analysis, per file of the corpus, in this process (medians and totals).
"""

from __future__ import annotations

import argparse
import collections
import json
import statistics
import sys
import time
from multiprocessing import Pool
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from sp404d.analysis.worker import analyse  # noqa: E402

AUDIO = {".wav", ".flac", ".ogg", ".aiff", ".aif", ".mp3"}
LOOPS = {"songloops", "hydrogen_songs", "tonal_loops", "lmms/beats", "lmms/bassloops"}
ONE_SHOTS = {"chords", "hydrogen", "lmms/drums", "lmms/basses", "lmms/instruments", "lmms/stringsnpads"}
RESERVED = ("The Black Pearl 1.0", "Millo_MultiLayered3")


def files(devset: Path, corpus: Path) -> list[tuple[str, str, bool]]:
    """(path, set, from the dev set) for every file with an audio suffix."""
    out = [(str(devset / t["file"]), t["set"], True) for t in json.loads((devset / "truth.json").read_text())]
    for p in sorted(corpus.rglob("*")):
        if p.suffix.lower() not in AUDIO or any(r in p.parts for r in RESERVED):
            continue
        parts = p.relative_to(corpus).parts
        out.append((str(p), parts[0] if parts[0] == "hydrogen" else f"{parts[0]}/{parts[1]}", False))
    return out


def _blind(path: str) -> str | None:
    return analyse(path, use_names=False).get("kind")


def _named(path: str) -> str | None:
    return analyse(path, use_names=True).get("kind")


def table(title: str, rows: list[tuple[str, str, str | None]]) -> None:
    """rows: (path, set, kind)."""
    by_set = collections.defaultdict(collections.Counter)
    for _, group, kind in rows:
        by_set[group][kind] += 1
    print(f"\n{title}")
    print(f"  {'set':<20} {'truth':<9} {'n':>4} {'loop':>5} {'one-shot':>9} {'right':>7}")
    totals = collections.Counter()
    for group in sorted(by_set):
        c = by_set[group]
        n = sum(c.values())
        truth = "loop" if group in LOOPS else "one-shot" if group in ONE_SHOTS else "?"
        right = f"{100 * c[truth] / n:.1f}%" if truth != "?" else ""
        if truth != "?":
            totals[f"{truth} as loop"] += c["loop"]
            totals[f"{truth} as one-shot"] += c["one-shot"]
        print(f"  {group:<20} {truth:<9} {n:>4} {c['loop']:>5} {c['one-shot']:>9} {right:>7}")
    print(f"  confusion: loops called loops {totals['loop as loop']}, loops called one-shots "
          f"{totals['loop as one-shot']}, one-shots called loops {totals['one-shot as loop']}, "
          f"one-shots called one-shots {totals['one-shot as one-shot']}")


def timing(paths: list[str]) -> None:
    """CPU time of rhythm.wrap against the whole analysis, file by file, in this process."""
    import numpy as np

    from sp404d.analysis import category as cat
    from sp404d.analysis import rhythm
    from sp404d.analysis import spectra as sp
    from sp404d.analysis.decode import decode
    from sp404d.analysis.describe import analysis_signal

    analyse(paths[0])  # warm up imports and filter banks
    whole, step = [], []
    for p in paths:
        t0 = time.process_time()
        analyse(p)
        whole.append(time.process_time() - t0)
        d = decode(p)
        s = sp.compute(analysis_signal(d))
        probe = rhythm.pulse(sp.onset_envelope(s))
        cat.envelope_shape(s)
        t0 = time.process_time()
        for _ in range(5):
            rhythm.wrap(probe, s.log_mel, s.frame_db, d.duration)
        step.append((time.process_time() - t0) / 5)
    print(f"\nCPU per file over {len(paths)} corpus files: analysis median {1000 * statistics.median(whole):.1f} ms, "
          f"total {sum(whole):.1f} s; rhythm.wrap median {1000 * statistics.median(step):.2f} ms, "
          f"total {sum(step):.2f} s = {100 * sum(step) / sum(whole):.2f} % of the analysis "
          f"(median per-file share {100 * float(np.median(np.array(step) / np.array(whole))):.2f} %)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--devset", type=Path, default=Path("/work/devset"))
    ap.add_argument("--corpus", type=Path, default=Path("/work/corpus"))
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--dump", type=Path, help="write path -> kind (blind and named) as JSON here")
    ap.add_argument("--timing", action="store_true")
    args = ap.parse_args()

    items = files(args.devset, args.corpus)
    paths = [p for p, _, _ in items]
    corpus = [(p, g) for p, g, dev in items if not dev]
    with Pool(args.workers) as pool:
        blind = pool.map(_blind, paths, chunksize=8)
        named = pool.map(_named, [p for p, _ in corpus], chunksize=8)
    table("Names hidden (blind)", [(p, g, k) for (p, g, _), k in zip(items, blind)])
    table("Names shown (dev corpus)", [(p, g, k) for (p, g), k in zip(corpus, named)])
    wrong = [(g, p, k) for (p, g, _), k in zip(items, blind)
             if (g in LOOPS and k != "loop") or (g in ONE_SHOTS and k != "one-shot")]
    print("\nWrong, names hidden:")
    for g, p, k in wrong:
        print(f"  {g}: {k} {p}")
    if args.dump:
        args.dump.write_text(json.dumps({"blind": dict(zip(paths, blind)),
                                         "named": dict(zip([p for p, _ in corpus], named))}, indent=0))
    if args.timing:
        timing([p for p, _ in corpus])


if __name__ == "__main__":
    main()
