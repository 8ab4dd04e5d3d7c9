"""Near-duplicate benchmark (not a test): recall and false pairs of the perceptual fingerprint.

    python tests/bench/bench_dedupe.py CORPUS [--sources 300]

Each source file is re-encoded 11 ways with ffmpeg (MP3 128k and 320k, OGG q3, FLAC, AIFF, M4A 160k,
48 kHz, 96 kHz/24-bit, -6 dB, +6 dB as 32-bit float, 20 ms of leading silence). Pairs within a
source's group are duplicates; every other pair is not, including the velocity layers of the same
drum (Gimme A Hand, Millo_MultiLayered2, ForzeeStereo), which are always among the sources.
Some kits reuse one recording for several layers at different gains (Gimme A Hand's "HandClap-Soft"
and "-Softest" correlate at 1.000): by the issue's own definition (gain is the same sound) those
sources form one group; the script finds them (waveform correlation >= 0.999) and says how many.

A pair is called a duplicate when durations are close, the bit error rate is at most the BER
threshold, and the waveform shapes correlate at least the shape threshold.
"""

from __future__ import annotations

import argparse
import itertools
import subprocess
import sys
import tempfile
import time
from multiprocessing import Pool
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from sp404d.analysis import fingerprint as fp  # noqa: E402
from sp404d.analysis.decode import decode  # noqa: E402
from sp404d.library.near_index import NearIndex  # noqa: E402

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


def pick_sources(corpus: Path, n: int) -> list[Path]:
    files = sorted(p for p in corpus.rglob("*") if p.is_file())
    layered = [p for p in files if p.parent.name in LAYERED]
    rest = [p for p in files if p.parent.name not in LAYERED]
    want = max(0, n - len(layered))
    step = max(1, len(rest) // max(1, want))
    return layered + rest[::step][:want]


def encode(job: tuple[Path, Path, str]) -> Path | None:
    src, out_dir, name = job
    ext, args = VARIANTS[name]
    out = out_dir / f"{name}{ext}"
    r = subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(src), *args, str(out)], capture_output=True)
    return out if r.returncode == 0 else None


def fingerprint_of(path: Path) -> fp.Fingerprint | None:
    try:
        d = decode(str(path))
    except Exception:
        return None
    return fp.compute(d.excerpt, d.samplerate)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("corpus", type=Path)
    ap.add_argument("--sources", type=int, default=300)
    ap.add_argument("--skip-pairs", action="store_true", help="only the writer's grouping and the index timing")
    args = ap.parse_args()
    sources = pick_sources(args.corpus, args.sources)
    with tempfile.TemporaryDirectory(prefix="sp4dupe-") as tmp, Pool(2) as pool:
        jobs, members = [], []
        for i, src in enumerate(sources):
            d = Path(tmp) / f"s{i:04d}"
            d.mkdir()
            jobs += [(src, d, v) for v in VARIANTS]
            members.append([src])
        t = time.perf_counter()
        outs = pool.map(encode, jobs, chunksize=8)
        for (src, d, _), out in zip(jobs, outs):
            if out is not None:
                members[sources.index(src)].append(out)
        print(f"{len(sources)} sources ({sum(s.parent.name in LAYERED for s in sources)} from velocity-layered kits), "
              f"{sum(len(m) for m in members)} files, encoded in {time.perf_counter() - t:.0f} s")
        flat = [(g, p) for g, ms in enumerate(members) for p in ms]
        t = time.perf_counter()
        prints = pool.map(fingerprint_of, [p for _, p in flat], chunksize=16)
        print(f"fingerprints: {1000 * (time.perf_counter() - t) / len(flat):.2f} ms per file (decode included, 2 processes)")
    items = [(g, p, f) for (g, p), f in zip(flat, prints) if f is not None]
    same_sound = _gain_copies(items, members)
    group = {g: same_sound.get(g, g) for g in range(len(members))}
    print(f"{sum(1 for g in group if group[g] != g)} sources are another source's recording at another gain "
          f"(counted as duplicates)")
    grouping(items, group)
    lookup_time(items)
    if args.skip_pairs:
        return
    pairs = []  # (duplicate?, ber, shape, variant name when one side is an original)
    t = time.perf_counter()
    for (ga, pa, fa), (gb, pb, fb) in itertools.combinations(items, 2):
        close = fp.durations_agree(fa, fb)
        variant = pb.stem if pa == members[ga][0] and ga == gb else ""
        if close:
            pairs.append((group[ga] == group[gb], fp.distance(fa, fb), fp.shape_similarity(fa, fb), variant))
        else:
            pairs.append((group[ga] == group[gb], 1.0, 0.0, variant))
    print(f"compared {len(pairs)} pairs in {time.perf_counter() - t:.0f} s")
    dup = np.array([p[0] for p in pairs])
    ber = np.array([p[1] for p in pairs])
    shape = np.array([p[2] for p in pairs])
    print(f"{dup.sum()} duplicate pairs, {(~dup).sum()} non-duplicate pairs")
    print(f"{'BER <=':>7} {'shape >=':>9} {'recall':>9} {'false pairs':>22}")
    for th in (0.25, 0.3, 0.35):
        for sh in (0.0, 0.8, 0.9):
            called = (ber <= th) & (shape >= sh)
            fp_n = int((called & ~dup).sum())
            print(f"{th:>7.2f} {sh:>9.2f} {100 * called[dup].mean():>8.2f}% {fp_n:>8} ({100 * fp_n / (~dup).sum():.4f}%)")
    print("two tiers: BER <= close, or BER <= far with shape >= 0.8")
    for close_th, far_th in ((0.15, 0.3), (0.2, 0.3), (0.2, 0.35), (0.25, 0.35), (0.15, 0.4)):
        called = (ber <= close_th) | ((ber <= far_th) & (shape >= 0.8))
        fp_n = int((called & ~dup).sum())
        print(f"  close {close_th:.2f} far {far_th:.2f}: recall {100 * called[dup].mean():.2f}%, "
              f"false pairs {fp_n} ({100 * fp_n / (~dup).sum():.4f}%)")
    variants = np.array([p[3] for p in pairs])
    print("recall per variant (BER <= 0.3):",
          {v: round(100 * float((ber[variants == v] <= 0.3).mean()), 1) for v in sorted(set(variants) - {""})})


def grouping(items, group) -> None:
    """What the library ends with: files arrive in a random order and the writer's rule (index
    candidates, nearest first, the first near duplicate joins its group: first_near_duplicate) runs
    on each in turn.
    Pairwise recall and false pairs are counted on the final groups."""
    order = np.random.default_rng(7).permutation(len(items))
    index, found, keys = NearIndex(), {}, {}
    t = time.perf_counter()
    for i in order:
        f = items[i][2]
        keys[i] = fp.coarse(f)
        found[i] = i
        candidates = index.candidates(f.duration, keys[i])
        match = fp.first_near_duplicate(f, [items[c][2] for c in candidates])
        if match is not None:
            found[i] = found[candidates[match[0]]]
        index.add(int(i), f.duration, keys[i])
    spent = time.perf_counter() - t
    truth = np.array([group[g] for g, _, _ in items])
    ours = np.array([found[i] for i in range(len(items))])
    same_truth = truth[:, None] == truth[None, :]
    same_ours = ours[:, None] == ours[None, :]
    upper = np.triu(np.ones_like(same_truth), 1)
    dup_pairs, other_pairs = (same_truth & upper).sum(), (~same_truth & upper).sum()
    hits, false = (same_truth & same_ours & upper).sum(), (~same_truth & same_ours & upper).sum()
    print(f"writer's grouping ({len(items)} files in random order, index + rule, {1000 * spent / len(items):.2f} ms "
          f"per file): recall {100 * hits / dup_pairs:.2f}% of {dup_pairs} duplicate pairs, "
          f"false pairs {false} ({100 * false / other_pairs:.4f}% of {other_pairs})")


def lookup_time(items, size: int = 100_000, lookups: int = 400) -> None:
    """A lookup in a 100,000-sample library, as the writer does it: index candidates, their
    fingerprints read from a real SQLite file in one query (none cached: the writer keeps recent
    ones in memory, so this is its worst case) and compared in one pass, nearest first. The
    library repeats the real fingerprints of half the files, with jittered keys and durations
    (synthetic library, real costs); probes are files whose sound is in the library (found at
    once) and files whose sound is not (every candidate compared: the worst case)."""
    import sqlite3

    rng = np.random.default_rng(3)
    index = NearIndex()
    stored = [it for it in items if it[0] % 2 == 0]  # even sources in the library, odd ones not
    novel = [it for it in items if it[0] % 2 == 1]
    with tempfile.TemporaryDirectory(prefix="sp4idx-") as tmp:
        db = sqlite3.connect(f"{tmp}/lib.db")
        db.execute("CREATE TABLE sample (id INTEGER PRIMARY KEY, fingerprint BLOB)")
        base = [(f.duration, fp.coarse(f), f.pack()) for _, _, f in stored]
        rows = []
        for sid in range(1, size + 1):
            duration, key, blob = base[sid % len(base)] if sid <= len(base) else base[int(rng.integers(len(base)))]
            if sid > len(base):  # the copies beyond the first are jittered: other sounds, similar keys
                duration *= float(np.exp(rng.normal(0, 0.5)))
                key = key + rng.normal(0, 0.05, key.size).astype(np.float32)
            index.add(sid, duration, key)
            rows.append((sid, blob))
        db.executemany("INSERT INTO sample VALUES (?, ?)", rows)
        db.commit()
        for label, pool in (("sound in the library", stored), ("sound not in the library", novel)):
            probes = [pool[int(i)][2] for i in rng.integers(len(pool), size=lookups)]
            t = time.perf_counter()
            compared = 0
            for f in probes:
                ids = index.candidates(f.duration, fp.coarse(f))
                blobs = dict(db.execute(f"SELECT id, fingerprint FROM sample WHERE id IN ({','.join('?' * len(ids))})",
                                        ids).fetchall())
                fp.first_near_duplicate(f, [fp.Fingerprint.unpack(blobs[i]) for i in ids])
                compared += len(ids)
            per = 1000 * (time.perf_counter() - t) / lookups
            print(f"lookup in a {size:,}-sample library, {label}: {per:.2f} ms "
                  f"({compared / lookups:.1f} candidates each, compared in one pass)")


def _gain_copies(items, members) -> dict[int, int]:
    """Sources whose trimmed waveforms correlate >= 0.999 with an earlier source: group -> group."""
    originals = {g: f for g, p, f in items if p == members[g][0]}
    out: dict[int, int] = {}
    keys = sorted(originals)
    for i, a in enumerate(keys):
        for b in keys[:i]:
            if b in out:
                continue
            fa, fb = originals[a], originals[b]
            if abs(fa.duration - fb.duration) < 0.05 and fp.shape_similarity(fa, fb) >= 0.999:
                out[a] = out.get(b, b)
                break
    return out


if __name__ == "__main__":
    main()
