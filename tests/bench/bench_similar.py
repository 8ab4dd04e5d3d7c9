"""Benchmark (not a test): is the embedding's "more like this" the same kind of sound? (issue 17)

    python tests/bench/bench_similar.py /work/corpus [--workers 2] [--cache /tmp/sp404d_similar.pkl]
        [--speed] [--fit]

Every one-shot of the named dev-corpus drum kits (the Hydrogen kits whose drumkit.xml names its
instruments, labelled by corpus_truth.truth: the instrument name, never the file name) is analysed
by the real worker (`analyse(path, use_names=False)`; the embedding hears audio only) and asks for
its 10 nearest sounds among all the others. Files that are the same recording (exact or near
duplicates: same.judge on the worker's fingerprint and signature, as the library groups them) are
one sound, as in the library: the first file of each group asks and answers for it.

Figures, for the embedding and two baselines on features the library already stores ((a) z-scored
MFCC means, (b) z-scored MFCC means and standard deviations with centroid, bandwidth, rolloff,
flatness and zero-crossing rate; Euclidean):
  precision@10      share of the 10 neighbours with the query's category;
  other drums       the same over the 10 nearest that are not layers or round robins of the query's
                    own drum (same kit, and the same instrument in drumkit.xml or the same name stem:
                    the file name lowercased without its last number and then without a trailing
                    velocity word, so clap_01/clap_02, EE_Snare_1/EE_Snare_3, RD2_03/RD2_04 and
                    BongoHi-Hard/BongoHi-Soft are one drum, HH2_01/HH3_01 are two);
  same kit          share of the 10 neighbours from the query's own kit (lower: less "same room");
  across instr.     the mean over categories of their precision (categories with more than 10
                    sounds, so that a perfect answer scores 1).
"embedding, kit held out" standardises the embedding's descriptors with constants measured
without the query's kit: the only thing the embedding fits is that standardisation.

--with-lmms: the named drum kits as bench_real.py counts them, the LMMS drums too (their labels come
from their file names, which the embedding never hears; none of them counts as another's layer).

--speed: CPU time (time.process_time) of embedding.compute per file over the whole dev corpus,
the way describe() calls it (a one-shot passes the category descriptors it computed; a loop's are
computed inside), median and mean over three runs of each file. --fit: measure the standardisation
constants over every dev-corpus file (no labels) and write sp404d/analysis/embedding_norm.json.
Analysis results are cached in --cache (keyed by file size, mtime and embedding VERSION).
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import pickle
import re
import statistics
import sys
import time
from multiprocessing import Pool
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(Path(__file__).resolve().parent)]

from corpus_truth import HYDROGEN, hydrogen_instruments, truth  # noqa: E402

from sp404d.analysis import category as cat  # noqa: E402
from sp404d.analysis import embedding, features, key, same  # noqa: E402
from sp404d.analysis import fingerprint as fpm  # noqa: E402
from sp404d.analysis import signature as sigm  # noqa: E402
from sp404d.analysis import spectra as sp  # noqa: E402
from sp404d.analysis.decode import decode  # noqa: E402
from sp404d.analysis.describe import analysis_signal, tonal_vectors  # noqa: E402
from sp404d.analysis.worker import analyse  # noqa: E402

K = 10
RESERVED = ("The Black Pearl", "Millo_MultiLayered3", "hydrogen-drumkits-effects", "fluid-soundfont-gm")
VELOCITY = re.compile(r"[\s_\-.]*(hardest|hard|medium|med|softest|soft|lite|light|normal)$")
SPECTRAL = ("centroid_hz", "bandwidth_hz", "rolloff_hz", "flatness", "zcr")


def allowed(path: str) -> bool:
    return not any(r in path for r in RESERVED)


def drum_stem(path: str) -> str:
    """The drum a layer or round robin belongs to, by name: "EE_Snare_3" -> "ee_snare"."""
    s = re.sub(r"[\s_\-.]*\d+$", "", Path(path).stem.lower())
    return VELOCITY.sub("", s)


def layer_matrix(paths: list[str], instruments: dict[str, str]) -> np.ndarray:
    kits = [Path(p).parent.name for p in paths]
    stems = [drum_stem(p) for p in paths]
    inst = [instruments.get(p) for p in paths]
    n = len(paths)
    out = np.zeros((n, n), bool)
    for i in range(n):
        for j in range(n):
            out[i, j] = i != j and kits[i] == kits[j] and "/lmms/" not in paths[i] and (
                stems[i] == stems[j] or (inst[i] is not None and inst[i] == inst[j]))
    return out


def duplicate_matrix(results: list[dict]) -> np.ndarray:
    """Pairs the library would group as the same recording (same.judge, as the writer does)."""
    ids = [same.Identity(fpm.Fingerprint.unpack(r["fingerprint"]), sigm.Signature.unpack(r["signature"]),
                         r["lossless"]) if r.get("fingerprint") and r.get("signature") else None for r in results]
    out = np.zeros((len(ids), len(ids)), bool)
    for i, a in enumerate(ids):
        earlier = [(j, b) for j, b in enumerate(ids[:i]) if b is not None]
        if a is None or not earlier:
            continue
        for pos, ber in same.worth_judging(a, [b for _, b in earlier]):
            j = earlier[pos][0]
            if same.judge(a, ids[j], ber).same:
                out[i, j] = out[j, i] = True
    return out


def one_per_group(dup: np.ndarray) -> list[int]:
    """The first file of each group of duplicates (connected through dup), as the library keeps one."""
    parent = list(range(len(dup)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, j in zip(*np.nonzero(np.triu(dup))):
        parent[max(root(i), root(j))] = min(root(i), root(j))
    return [i for i in range(len(dup)) if root(i) == i]


def euclidean(x: np.ndarray) -> np.ndarray:
    sq = (x * x).sum(axis=1)
    return np.sqrt(np.maximum(sq[:, None] + sq[None, :] - 2.0 * x @ x.T, 0.0))


def zscored(x: np.ndarray) -> np.ndarray:
    return (x - x.mean(axis=0)) / (x.std(axis=0) + 1e-12)


def scores(dist: np.ndarray, cats: np.ndarray, kits: np.ndarray, dup: np.ndarray, layer: np.ndarray) -> dict:
    """Per query: precision@K, the same past the query's own drum's layers, and the same-kit share."""
    d = dist.astype(np.float64, copy=True)
    np.fill_diagonal(d, np.inf)
    d[dup] = np.inf
    near = np.argsort(d, axis=1, kind="stable")[:, :K]
    d[layer] = np.inf
    others = np.argsort(d, axis=1, kind="stable")[:, :K]
    return {"p": (cats[near] == cats[:, None]).mean(axis=1),
            "other": (cats[others] == cats[:, None]).mean(axis=1),
            "kit": (kits[near] == kits[:, None]).mean(axis=1)}


def summary(s: dict, cats: np.ndarray, big: list[str]) -> dict:
    out = {k: float(v.mean()) for k, v in s.items()}
    out["macro"] = float(np.mean([s["p"][cats == c].mean() for c in big]))
    out["macro_other"] = float(np.mean([s["other"][cats == c].mean() for c in big]))
    return out


def _analyse(path: str) -> dict:
    r = analyse(path, use_names=False)
    return {k: r.get(k) for k in ("ok", "kind", "embedding", "mfcc_mean", "mfcc_std", *SPECTRAL,
                                  "fingerprint", "signature", "lossless", "category")}


def analysed(paths: list[str], cache_file: Path, workers: int) -> list[dict]:
    cache = pickle.loads(cache_file.read_bytes()) if cache_file.exists() else {}

    def stamp(p: str) -> str:
        st = os.stat(p)
        return f"{st.st_size}:{st.st_mtime_ns}:{embedding.VERSION}"

    todo = [p for p in paths if cache.get(p, {}).get("stamp") != stamp(p)]
    if todo:
        print(f"analysing {len(todo)} files (cached {len(paths) - len(todo)})", file=sys.stderr, flush=True)
        with Pool(workers) as pool:
            for p, r in zip(todo, pool.map(_analyse, todo, chunksize=4)):
                cache[p] = {**r, "stamp": stamp(p)}
        cache_file.write_bytes(pickle.dumps(cache))
    return [cache[p] for p in paths]


def held_out_standardisation(vectors: np.ndarray, kits: np.ndarray) -> np.ndarray:
    """Distances whose query rows use descriptors standardised without the query's kit."""
    mean, scale = embedding.norm()
    n_raw = embedding.N_RAW
    raw = vectors[:, :n_raw] * scale + mean  # undo the shipped standardisation (clipped values stay clipped)
    w = np.sqrt(embedding.weights("all"))
    out = np.zeros((len(vectors), len(vectors)))
    for kit in sorted(set(kits)):
        rest = kits != kit
        m, s = raw[rest].mean(axis=0), raw[rest].std(axis=0) + 1e-12
        v = np.hstack([np.clip((raw - m) / s, -embedding.CLIP, embedding.CLIP), vectors[:, n_raw:]]) * w
        out[kits == kit] = euclidean(v)[kits == kit]
    return out


def print_tables(rows: dict[str, dict], per_cat: dict[str, dict], cats: np.ndarray, big: list[str]) -> None:
    print(f"\nRetrieval, {len(cats)} one-shots of the named dev-corpus drum kits, {K} nearest each "
          f"(each sound once: duplicates are one sound, as in the library)")
    print(f"{'method':<34} {'precision@10':>12} {'other drums':>12} {'same kit':>9} "
          f"{'across instr.':>14} {'across, other':>14}")
    for name, r in rows.items():
        print(f"{name:<34} {r['p']:>12.3f} {r['other']:>12.3f} {r['kit']:>9.3f} {r['macro']:>14.3f} "
              f"{r['macro_other']:>14.3f}")
    print(f"{'target (embedding)':<34} {'≥ 0.90':>12} {'':>12} {'':>9} {'≥ 0.80':>14}")
    names = list(per_cat)
    print(f"\nPer category: precision@10 / other drums (across instr. averages the {len(big)} categories "
          f"with more than {K} sounds)")
    print(f"{'category':<12} {'n':>4}  " + "  ".join(f"{n:>22}" for n in names))
    for c in sorted(set(cats), key=lambda c: -int((cats == c).sum())):
        mask = cats == c
        cells = "  ".join(f"{per_cat[n]['p'][mask].mean():>10.3f} / {per_cat[n]['other'][mask].mean():<9.3f}"
                          for n in names)
        print(f"{c + ('' if c in big else ' *'):<12} {int(mask.sum()):>4}  {cells}")
    print("* too few sounds for a perfect score: left out of \"across instr.\"")


def labelled_sounds(corpus: Path, cache: Path, workers: int, with_lmms: bool = False) -> dict:
    """The benchmark's sounds (one per dedupe group) with their category, kit, analysis result,
    which pairs are duplicates and which are layers of one drum, and the categories big enough to
    score ("across instr.")."""
    labels = {p: c for p, c in truth(corpus).items()
              if ("/hydrogen/" in p or with_lmms and "/lmms/drums/" in p) and allowed(p)}
    paths = sorted(labels)
    results = analysed(paths, cache, workers)
    keep = [i for i, r in enumerate(results) if r.get("ok", True) and r.get("embedding")]
    paths, results = [paths[i] for i in keep], [results[i] for i in keep]
    cats = np.array([labels[p] for p in paths])
    kits = np.array([Path(p).parent.name for p in paths])
    instruments = {str(kit / f): name for kit in (corpus / "hydrogen").glob("*")
                   for f, name in hydrogen_instruments(HYDROGEN / kit.name).items()}
    dup = duplicate_matrix(results)
    # the library shows sounds, one per dedupe group: a velocity layer that is the same recording
    # turned down is not five more neighbours, and asking from either copy is one question
    sounds = one_per_group(dup)
    files = len(paths)
    paths, results = [paths[i] for i in sounds], [results[i] for i in sounds]
    cats, kits, dup = cats[sounds], kits[sounds], dup[np.ix_(sounds, sounds)]
    layer = layer_matrix(paths, instruments)
    print(f"{files} files, {len(paths)} sounds (one per dedupe group) in {len(set(kits))} kits; "
          f"{int(layer.sum()) // 2} pairs of layers of one drum", file=sys.stderr)
    big = sorted(c for c, n in collections.Counter(cats).items() if n > K)
    vectors = np.array([embedding.unpack(r["embedding"]) for r in results])
    return {"paths": paths, "results": results, "cats": cats, "kits": kits, "dup": dup, "layer": layer,
            "big": big, "vectors": vectors}


def retrieval(corpus: Path, cache: Path, workers: int, with_lmms: bool = False) -> None:
    d = labelled_sounds(corpus, cache, workers, with_lmms)
    results, cats, kits, dup, layer, big, vectors = (d[k] for k in ("results", "cats", "kits", "dup", "layer",
                                                                     "big", "vectors"))
    mfcc_mean = np.array([r["mfcc_mean"] for r in results])
    stats = np.hstack([mfcc_mean, np.array([r["mfcc_std"] for r in results]),
                       np.array([[r[k] for k in SPECTRAL] for r in results])])
    methods = {
        "embedding": np.array([embedding.distances(v, vectors) for v in vectors]),
        "embedding, kit held out": held_out_standardisation(vectors, kits),
        "(a) MFCC mean, z-scored": euclidean(zscored(mfcc_mean)),
        "(b) MFCC mean+std, spectral, z": euclidean(zscored(stats)),
    }
    per_cat = {n: scores(d, cats, kits, dup, layer) for n, d in methods.items()}
    rows = {n: summary(s, cats, big) for n, s in per_cat.items()}
    for aspect in ("timbre", "envelope", "pitch"):
        d = np.array([embedding.distances(v, vectors, aspect) for v in vectors])
        rows[f"embedding, {aspect} only"] = summary(scores(d, cats, kits, dup, layer), cats, big)
    print_tables(rows, {n: per_cat[n] for n in ("embedding", "(a) MFCC mean, z-scored",
                                                 "(b) MFCC mean+std, spectral, z")}, cats, big)


def ingredients(path: str):
    """What describe() hands embedding.compute, computed the way describe does."""
    d = decode(path)
    s = sp.compute(analysis_signal(d))
    shape = cat.envelope_shape(s)
    chroma, _ = tonal_vectors(s)
    tonal = key.tonalness(chroma)
    feats = features.describe(s, d.peak, d.rms, sp.pick_onsets(sp.onset_envelope(s)).size, d.duration)
    return s, d.duration, feats, shape, tonal, chroma


def _timed(path: str) -> tuple[str, list[float]] | None:
    try:
        kind = analyse(path, use_names=True).get("kind")
        s, duration, feats, shape, tonal, chroma = ingredients(path)
    except Exception:
        return None
    x = cat.vector(s, duration, feats, shape, tonal) if kind == "one-shot" else None
    times = []
    for _ in range(3):
        t = time.process_time()
        embedding.compute(s, duration, feats, shape, tonal, chroma, x)
        times.append(time.process_time() - t)
    return kind or "?", times


def speed(corpus: Path, workers: int) -> None:
    paths = sorted(str(p) for p in corpus.rglob("*") if p.is_file() and allowed(str(p)))
    with Pool(workers) as pool:
        out = [r for r in pool.map(_timed, paths, chunksize=8) if r]
    print(f"\nembedding.compute CPU time per file, dev corpus ({len(out)} files), median of 3 runs each:")
    for label, keep in (("all files", None), ("one-shots", "one-shot"), ("loops", "loop")):
        ms = [statistics.median(t) * 1000 for kind, t in out if keep is None or kind == keep]
        if ms:
            print(f"  {label:<10} {len(ms):>4} files: median {statistics.median(ms):.3f} ms, "
                  f"mean {statistics.mean(ms):.3f} ms, max {max(ms):.2f} ms   (target ≤ 1 ms)")


def _raw(path: str) -> list[float] | None:
    try:
        s, duration, feats, shape, tonal, _ = ingredients(path)
    except Exception:
        return None
    return embedding.raw(s, cat.vector(s, duration, feats, shape, tonal)).tolist()


def fit(corpus: Path, workers: int) -> None:
    paths = sorted(str(p) for p in corpus.rglob("*") if p.is_file() and allowed(str(p)))
    with Pool(workers) as pool:
        rows = np.array([r for r in pool.map(_raw, paths, chunksize=8) if r is not None])
    mean, scale = rows.mean(axis=0), rows.std(axis=0) + 1e-9
    out = ROOT / "sp404d" / "analysis" / embedding.NORM_FILE
    out.write_text(json.dumps({"files": len(rows), "mean": [round(float(v), 6) for v in mean],
                               "scale": [round(float(v), 6) for v in scale]}) + "\n")
    print(f"wrote {out} from {len(rows)} files")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("corpus", type=Path)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--cache", type=Path, default=Path("/tmp/sp404d_similar.pkl"))
    ap.add_argument("--speed", action="store_true", help="also time embedding.compute over the dev corpus")
    ap.add_argument("--fit", action="store_true", help="write the standardisation constants, then stop")
    ap.add_argument("--with-lmms", action="store_true",
                    help="also the LMMS drums (labelled by their file names, which the embedding never hears; "
                         "each its own drum): the named drum kits as bench_real.py counts them")
    args = ap.parse_args()
    if args.fit:
        fit(args.corpus, args.workers)
        return
    retrieval(args.corpus, args.cache, args.workers, args.with_lmms)
    if args.speed:
        speed(args.corpus, args.workers)


if __name__ == "__main__":
    main()
