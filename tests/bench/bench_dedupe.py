"""Near-duplicate benchmark (not a test): re-encoded copies, grouped by the real writer.

    python tests/bench/bench_dedupe.py CORPUS [--sources 300] [--work DIR] [--skip-lookup]

Each source file is re-encoded 11 ways with ffmpeg (MP3 128k and 320k, OGG q3, FLAC, AIFF, M4A 160k,
48 kHz, 96 kHz/24-bit, -6 dB, +6 dB as 32-bit float, 20 ms of leading silence). Every velocity-
layered and round-robin kit is among the sources (Gimme A Hand, Millo_MultiLayered2, ForzeeStereo).
Negatives are added as they are, without copies: the LMMS `shapes/` and `waveforms/` folders (single
cycles and 8 ms waveforms) and the shortest one-shots of the corpus. Every file is analysed by the
worker's own function and handed, in a random order, to the real writer on a real SQLite library.

Truth: the files of one source are one sound; so are sources that are one recording at another
gain (Gimme A Hand's "Clave-*"): the independent oracle (oracle.py) finds those (whole-waveform
correlation >= 0.999). Everything else is another sound, however alike.

Printed: recall (the share of duplicate pairs that end in one group), per-pair precision (the
share of pairs in one group that are duplicates), decision precision (the share of files placed in
another file's group whose source truly is that group's), every wrong decision, the fingerprint's
discrimination by length (where a sound is too short for it), and the lookup time in a 100,000-sample
library (real SQLite reads, nothing cached).
"""

from __future__ import annotations

import argparse
import itertools
import json
import subprocess
import sys
import tempfile
import time
from multiprocessing import Pool
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
import oracle  # noqa: E402
from sp404d.analysis import fingerprint as fp  # noqa: E402
from sp404d.analysis import same  # noqa: E402
from sp404d.analysis.signature import Signature  # noqa: E402
from sp404d.analysis.worker import analyse  # noqa: E402

VARIANTS = {
    "mp3_128": (".mp3", ["-c:a", "libmp3lame", "-b:a", "128k"]),
    "mp3_320": (".mp3", ["-c:a", "libmp3lame", "-b:a", "320k"]),
    "ogg_q3": (".ogg", ["-c:a", "libvorbis", "-q:a", "3"]),
    "flac": (".flac", ["-c:a", "flac"]),
    "aiff": (".aiff", ["-c:a", "pcm_s16be"]),
    "m4a_160": (".m4a", ["-c:a", "aac", "-b:a", "160k"]),
    "r48k": (".wav", ["-ar", "48000", "-c:a", "pcm_s16le"]),
    "r96k_24": (".wav", ["-ar", "96000", "-c:a", "pcm_s24le"]),
    "minus6db": (".wav", ["-af", "volume=-6dB", "-c:a", "pcm_s16le"]),
    "plus6db_f32": (".wav", ["-af", "volume=6dB", "-c:a", "pcm_f32le"]),
    "pad20ms": (".wav", ["-af", "adelay=20:all=1", "-c:a", "pcm_s16le"]),
}
LAYERED = ("Gimme A Hand 1.0", "Millo_MultiLayered2", "ForzeeStereo")
NEGATIVE_FOLDERS = ("shapes", "waveforms")
SHORTEST = 40  # the shortest one-shots of the corpus, added as negatives


def pick_sources(corpus: Path, n: int) -> list[Path]:
    files = sorted(p for p in corpus.rglob("*") if p.is_file())
    layered = [p for p in files if p.parent.name in LAYERED]
    rest = [p for p in files if p.parent.name not in LAYERED]
    want = max(0, n - len(layered))
    step = max(1, len(rest) // max(1, want))
    return layered + rest[::step][:want]


def pick_negatives(corpus: Path, sources: list[Path], durations: dict[Path, float]) -> list[Path]:
    files = sorted(p for p in corpus.rglob("*") if p.is_file() and p not in sources)
    folders = [p for p in files if p.parent.name in NEGATIVE_FOLDERS]
    shortest = sorted((p for p in files if p not in folders and p in durations), key=durations.get)[:SHORTEST]
    return folders + shortest


def encode(job: tuple[Path, Path, str]) -> Path | None:
    src, out_dir, name = job
    ext, args = VARIANTS[name]
    out = out_dir / f"{name}{ext}"
    if out.exists() and out.stat().st_size:
        return out
    r = subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(src), *args, str(out)], capture_output=True)
    return out if r.returncode == 0 else None


def analysed(path: Path) -> tuple[Path, dict]:
    return path, analyse(str(path))


def duration_of(path: Path) -> tuple[Path, float | None]:
    r = analyse(str(path))
    return path, (r.get("duration") if r.get("ok") else None)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("corpus", type=Path)
    ap.add_argument("--sources", type=int, default=300)
    ap.add_argument("--work", type=Path, help="keep the encoded copies here (reused by the next run)")
    ap.add_argument("--seed", type=int, default=7, help="of the random arrival order")
    ap.add_argument("--skip-lookup", action="store_true")
    args = ap.parse_args()
    corpus = args.corpus.resolve()
    sources = pick_sources(corpus, args.sources)
    work_ctx = tempfile.TemporaryDirectory(prefix="sp4dupe-") if args.work is None else None
    work = Path(work_ctx.name) if work_ctx else args.work
    work.mkdir(parents=True, exist_ok=True)
    with Pool(2) as pool:
        everything = sorted(p for p in corpus.rglob("*") if p.is_file())
        durations = {p: d for p, d in pool.map(duration_of, everything, chunksize=16) if d is not None}
        negatives = pick_negatives(corpus, sources, durations)
        jobs, members = [], []
        for i, src in enumerate(sources):
            d = work / f"s{i:04d}"
            d.mkdir(exist_ok=True)
            jobs += [(src, d, v) for v in VARIANTS]
            members.append([src])
        t = time.perf_counter()
        for (src, _, _), out in zip(jobs, pool.map(encode, jobs, chunksize=8)):
            if out is not None:
                members[sources.index(src)].append(out)
        members += [[p] for p in negatives]
        print(f"{len(sources)} sources ({sum(s.parent.name in LAYERED for s in sources)} from velocity-layered "
              f"kits) and {len(negatives)} negatives (LMMS shapes/ and waveforms/, the {SHORTEST} shortest "
              f"one-shots): {sum(len(m) for m in members)} files, encoded in {time.perf_counter() - t:.0f} s")
        flat = [(g, p) for g, ms in enumerate(members) for p in ms]
        t = time.perf_counter()
        results = dict(pool.map(analysed, [p for _, p in flat], chunksize=8))
        print(f"analysis: {1000 * (time.perf_counter() - t) / len(flat):.1f} ms per file (2 processes, "
              f"the whole worker: decode, describe, fingerprint and signature)")
    items = [(g, p, results[p]) for g, p in flat if results[p].get("ok") and results[p].get("signature")]
    truth = same_recordings(items, members)
    print(f"{sum(1 for g in range(len(members)) if truth[g] != g)} sources are another source's recording at "
          f"another gain (oracle >= 0.999), counted as one sound")
    groups = group_with_writer(items, args.seed)
    score(items, truth, groups)
    too_short(items, truth)
    if not args.skip_lookup:
        lookup_time(items)
    if work_ctx:
        work_ctx.cleanup()


def same_recordings(items, members) -> dict[int, int]:
    """Source -> the first source that is the same recording (oracle >= 0.999 on the originals)."""
    originals = {g: (p, r) for g, p, r in items if p == members[g][0]}
    truth = {g: g for g in range(len(members))}
    keys = sorted(originals)
    for i, a in enumerate(keys):
        fa = fp.Fingerprint.unpack(originals[a][1]["fingerprint"])
        for b in keys[:i]:
            if truth[b] != b:
                continue
            fb = fp.Fingerprint.unpack(originals[b][1]["fingerprint"])
            if abs(fa.duration - fb.duration) > 0.05 or fp.distance(fa, fb) > 0.3:
                continue
            if oracle.correlation(str(originals[a][0]), str(originals[b][0])) >= 0.999:
                truth[a] = b
                break
    return truth


def group_with_writer(items, seed: int) -> dict[str, tuple[int, bool]]:
    """The real writer, on a real library: path -> (group id, canonical?)."""
    from sp404d.library import commands as c
    from sp404d.library.schema import open_library
    from sp404d.library.writer import Writer

    order = np.random.default_rng(seed).permutation(len(items))
    with tempfile.TemporaryDirectory(prefix="sp4group-") as tmp:
        db = open_library(Path(tmp) / "library.db")
        w = Writer(db, batch_ms=50)
        w.start()
        t = time.perf_counter()
        for k in order:
            _, path, result = items[k]
            w.put(c.RecordResult(c.FileStat(str(path), 1, 1), f"bytes-{k}", result))
        w.flush(3600)
        spent = time.perf_counter() - t
        w.stop(60)
        rows = db.execute_sql("SELECT l.path, s.group_id, s.canonical FROM location l JOIN sample s "
                              "ON s.id = l.sample_id").fetchall()
        db.close()
    print(f"the writer grouped {len(items)} files in random order: {1000 * spent / len(items):.2f} ms per file "
          f"(recording, lookup, judging, regrouping; {w.transactions} transactions)")
    return {p: (g, bool(can)) for p, g, can in rows}


def score(items, truth, groups) -> None:
    true_of = {str(p): truth[g] for g, p, _ in items}
    paths = list(true_of)
    source = np.array([true_of[p] for p in paths])
    group = np.array([groups[p][0] for p in paths])
    same_truth = source[:, None] == source[None, :]
    same_group = group[:, None] == group[None, :]
    upper = np.triu(np.ones_like(same_truth), 1)
    dup, grouped = (same_truth & upper).sum(), (same_group & upper).sum()
    hits, false = (same_truth & same_group & upper).sum(), (~same_truth & same_group & upper).sum()
    print(f"recall {100 * hits / dup:.2f}% of {dup} duplicate pairs; per-pair precision {100 * hits / max(grouped, 1):.3f}% "
          f"({false} of {grouped} pairs in one group are not duplicates)")
    # decisions: every file whose sample is not its group's canonical one
    canonical_truth = {}
    for p in paths:
        g, can = groups[p]
        if can:
            canonical_truth.setdefault(g, true_of[p])
    decisions = [(p, groups[p][0]) for p in paths if not groups[p][1]]
    wrong = [(p, g) for p, g in decisions if canonical_truth.get(g) != true_of[p]]
    print(f"decision precision {100 * (1 - len(wrong) / max(len(decisions), 1)):.3f}%: {len(wrong)} of "
          f"{len(decisions)} files placed in another file's group are another sound")
    canonical_path = {g: p for p in paths for g, can in [groups[p]] if can}
    for p, g in wrong:
        print(f"   wrong: {p}  in the group of  {canonical_path.get(g)}")
    missed = [(p, q) for p, q in itertools.combinations(paths, 2) if true_of[p] == true_of[q] and groups[p][0] != groups[q][0]]
    by_file: dict[str, int] = {}
    for p, q in missed:
        for x in (p, q):
            by_file[x] = by_file.get(x, 0) + 1
    print(f"files in most missed pairs: " + ", ".join(f"{Path(p).parent.name}/{Path(p).name} ({n})"
                                                      for p, n in sorted(by_file.items(), key=lambda kv: -kv[1])[:12]))


def too_short(items, truth) -> None:
    """Where the fingerprint stops telling sounds apart: the share of unrelated pairs (durations
    agreeing) within a bit error rate, by the fewer loud frames of the two."""
    prints = [(truth[g], fp.Fingerprint.unpack(r["fingerprint"])) for g, _, r in items]
    rng = np.random.default_rng(5)
    edges = (0, 5, 10, 15, 20, 30, 60, 173)
    counts = {e: [0, 0, 0] for e in edges[:-1]}
    for i in rng.permutation(len(prints))[:1500]:
        ti, fi = prints[i]
        for tj, fj in prints:
            if tj == ti or not fp.durations_agree(fi, fj):
                continue
            frames = min(same.frames(fi), same.frames(fj))
            ber = fp.distance(fi, fj)
            lo = max(e for e in edges[:-1] if e <= frames)
            counts[lo][0] += 1
            counts[lo][1] += ber <= 0.2
            counts[lo][2] += ber <= 0.3
    print("fingerprint discrimination (pairs of different sounds whose durations agree):")
    print(f"  {'loud frames':>12} {'pairs':>8} {'BER <= 0.2':>11} {'BER <= 0.3':>11}")
    for lo, hi in zip(edges[:-1], edges[1:]):
        n, a, b = counts[lo]
        if n:
            print(f"  {f'{lo}-{hi - 1}':>12} {n:>8} {100 * a / n:>10.2f}% {100 * b / n:>10.2f}%")
    print(f"  (a frame is 5.8 ms; the decision trusts the fingerprint from {same.FINGERPRINT_FRAMES} loud frames)")


def lookup_time(items, size: int = 100_000, lookups: int = 300) -> None:
    """A lookup in a 100,000-sample library, as the writer does it: index candidates, their
    fingerprints and signatures read from a real SQLite file in one query (none cached: the writer
    keeps recent ones in memory, so this is its worst case), judged. The library repeats the real
    identities of half the files, with jittered keys and durations (synthetic library, real
    costs); probes are files whose sound is in the library and files whose sound is not."""
    import sqlite3

    from sp404d.library.near_index import NearIndex

    rng = np.random.default_rng(3)
    index = NearIndex()
    stored = [r for g, _, r in items if g % 2 == 0]
    novel = [r for g, _, r in items if g % 2 == 1]
    with tempfile.TemporaryDirectory(prefix="sp4idx-") as tmp:
        db = sqlite3.connect(f"{tmp}/lib.db")
        db.execute("CREATE TABLE sample (id INTEGER PRIMARY KEY, fingerprint BLOB, signature BLOB, lossless INTEGER)")
        base = [(*fp.unpack_key(r["fp_key"]), r) for r in stored]
        rows = []
        for sid in range(1, size + 1):
            duration, key, r = base[sid % len(base)] if sid <= len(base) else base[int(rng.integers(len(base)))]
            if sid > len(base):  # the copies beyond the first are jittered: other sounds, similar keys
                duration *= float(np.exp(rng.normal(0, 0.5)))
                key = key + rng.normal(0, 0.05, key.size).astype(np.float32)
            index.add(sid, duration, key)
            rows.append((sid, r["fingerprint"], r["signature"], int(bool(r["lossless"]))))
        db.executemany("INSERT INTO sample VALUES (?, ?, ?, ?)", rows)
        db.commit()
        for label, pool in (("sound in the library", stored), ("sound not in the library", novel)):
            probes = [pool[int(i)] for i in rng.integers(len(pool), size=lookups)]
            t, cpu = time.perf_counter(), time.process_time()
            compared = judged = 0
            for r in probes:
                mine = same.Identity(fp.Fingerprint.unpack(r["fingerprint"]), Signature.unpack(r["signature"]),
                                     bool(r["lossless"]))
                ids = index.candidates(mine.fingerprint.duration, fp.coarse(mine.fingerprint))
                found = {i: same.Identity(fp.Fingerprint.unpack(f), Signature.unpack(s), bool(ll)) for i, f, s, ll in
                         db.execute(f"SELECT id, fingerprint, signature, lossless FROM sample WHERE id IN "
                                    f"({','.join('?' * len(ids))})", ids).fetchall()}
                others = [found[i] for i in ids]
                worth = same.worth_judging(mine, others)
                for i, ber in worth:  # the writer stops at the first canonical that is the same recording
                    if same.judge(mine, others[i], ber).same:
                        break
                compared += len(ids)
                judged += len(worth)
            per = 1000 * (time.perf_counter() - t) / lookups
            per_cpu = 1000 * (time.process_time() - cpu) / lookups  # what load on a shared machine does not inflate
            print(f"lookup in a {size:,}-sample library, {label}: {per:.2f} ms, {per_cpu:.2f} ms CPU "
                  f"({compared / lookups:.1f} candidates each, {judged / lookups:.1f} of them judged by their waveforms)")


if __name__ == "__main__":
    main()
