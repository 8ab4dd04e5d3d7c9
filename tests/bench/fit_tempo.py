"""Fit (not a test): the bar-count weights of sp404d/analysis/rhythm.py and the calibration of the
tempo's confidence, with cross-validated figures beside the in-sample ones.

    python tests/bench/fit_tempo.py [--devset /work/devset] [--fixtures 150] [--folds 2] [--workers 2]
        [--cache /tmp/fit_tempo] [--fixture-weight 0.5]

Material: the real dev set's tempo sets (songloops, hydrogen_songs, tonal_loops; truth from the
songs' own files) and a fixture loop set (fixtures/music.loop_set, seed 11) at a lower weight, so
the synthetic loops the tests pin are not lost. Folds are grouped by source song: the loops of one
song never sit on both sides. Every figure is the share of files whose true bar count is the
likeliest; "CV" figures come from weights fitted without the file's fold.

The spectra of each file are cached under --cache (they are what rhythm.candidates reads), so a new
feature costs one pass over the cache, not a decode of every file.
"""

from __future__ import annotations

import argparse
import collections
import json
import sys
from multiprocessing import Pool
from pathlib import Path

import numpy as np
from scipy.optimize import minimize

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT)]

from sp404d.analysis import rhythm  # noqa: E402
from sp404d.analysis import spectra as sp  # noqa: E402
from sp404d.analysis.decode import decode  # noqa: E402
from sp404d.analysis.describe import analysis_signal  # noqa: E402

TEMPO_SETS = ("songloops", "hydrogen_songs", "tonal_loops")
L2 = 0.01


def _spectra(task: tuple[str, str]) -> str:
    """Decode one file (or render one fixture) and cache what rhythm.candidates needs."""
    src, out = task
    if Path(out).exists() and "bass" in np.load(out).files:
        return out
    if src.startswith("fixture:"):
        sys.path.insert(0, str(ROOT))
        from fixtures import music
        i, seed = (int(x) for x in src.split(":")[1:])
        truth = music.loop_set(i + 1, seed)[i]
        y = music.render_loop(truth)
        duration = y.size / music.SR
        y = sp.to_analysis_rate(y.astype(np.float32), music.SR)
    else:
        d = decode(src)
        duration = d.duration
        y = analysis_signal(d)
    s = sp.compute(y)
    env = sp.onset_envelope(s)
    np.savez(out, log_mel=s.log_mel.astype(np.float32), mel=s.mel.astype(np.float32), env=env, duration=duration,
             bass=rhythm.bass_flux(s.power))
    return out


def _features(path: str) -> dict:
    z = np.load(path)
    p = rhythm.pulse(z["env"])
    duration = float(z["duration"])
    counts, rows, priors = rhythm.candidates(z["log_mel"].astype(np.float64), z["mel"].astype(np.float64),
                                             duration, p.ac, z["bass"].astype(np.float64))
    return {"counts": counts, "rows": rows, "priors": priors, "duration": duration}


def material(devset: Path, n_fixtures: int, cache: Path, workers: int) -> list[dict]:
    cache.mkdir(parents=True, exist_ok=True)
    items = []
    for t in json.loads((devset / "truth.json").read_text()):
        if t["set"] in TEMPO_SETS:
            song = t["source"].split(" (")[0].split(",")[0]
            items.append({"src": str(devset / t["file"]), "bpm": t["bpm"], "set": t["set"], "group": song,
                          "file": t["file"], "weight": 1.0})
    from fixtures import music
    for i, truth in enumerate(music.loop_set(n_fixtures, 11)):
        items.append({"src": f"fixture:{i}:11", "bpm": truth.bpm, "set": "fixtures", "group": f"fixture{i}",
                      "file": f"fixture {i} ({truth.style}, {truth.bars} bars)", "weight": None})
    tasks = [(it["src"], str(cache / (it["src"].replace("/", "_").replace(":", "_") + ".npz"))) for it in items]
    with Pool(workers) as pool:
        paths = pool.map(_spectra, tasks, chunksize=2)
        feats = pool.map(_features, paths, chunksize=2)
    out = []
    for it, f in zip(items, feats):
        right = round(it["bpm"] * f["duration"] / 240.0)
        if right not in f["counts"] or len(f["counts"]) < 2:
            continue  # nothing to choose (one candidate) or the truth is out of range
        out.append({**it, **f, "label": f["counts"].index(right)})
    return out


def _loss(w: np.ndarray, data: list[dict], weights: np.ndarray) -> tuple[float, np.ndarray]:
    total, grad = 0.0, np.zeros_like(w)
    for d, k in zip(data, weights):
        z = d["rows"] @ w + d["priors"]
        z = z - z.max()
        p = np.exp(z)
        p /= p.sum()
        total -= k * np.log(max(p[d["label"]], 1e-300))
        grad -= k * (d["rows"][d["label"]] - p @ d["rows"])
    return total + L2 * w @ w, grad + 2 * L2 * w


def fit(data: list[dict], fixture_weight: float, start: np.ndarray) -> np.ndarray:
    k = np.array([fixture_weight if d["set"] == "fixtures" else 1.0 for d in data])
    return minimize(_loss, start, args=(data, k), jac=True, method="L-BFGS-B").x


def probabilities(w: np.ndarray, d: dict) -> np.ndarray:
    z = d["rows"] @ w + d["priors"]
    p = np.exp(z - z.max())
    return p / p.sum()


def folds(data: list[dict], k: int, seed: int = 0) -> list[int]:
    """A fold per file, whole source songs at a time, balanced by file count."""
    groups = collections.Counter(d["group"] for d in data)
    order = sorted(groups)
    np.random.default_rng(seed).shuffle(order)
    load, where = [0] * k, {}
    for g in order:
        f = int(np.argmin(load))
        where[g] = f
        load[f] += groups[g]
    return [where[d["group"]] for d in data]


def report(title: str, data: list[dict], probs: list[np.ndarray]) -> None:
    print(f"\n{title}")
    by = collections.defaultdict(list)
    for d, p in zip(data, probs):
        by[d["set"]].append(int(np.argmax(p)) == d["label"])
    for s, v in sorted(by.items()):
        print(f"  {s:<16} right bar count {100 * np.mean(v):5.1f} % ({sum(v)}/{len(v)})")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--devset", type=Path, default=Path("/work/devset"))
    ap.add_argument("--fixtures", type=int, default=150)
    ap.add_argument("--folds", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3, help="fold assignments (seeds) to average over")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--cache", type=Path, default=Path("/tmp/fit_tempo"))
    ap.add_argument("--fixture-weight", type=float, default=0.5)
    ap.add_argument("--misses", action="store_true")
    ap.add_argument("--columns", help="comma-separated feature columns to fit (default: all)")
    args = ap.parse_args()

    data = material(args.devset, args.fixtures, args.cache, args.workers)
    start = rhythm.WEIGHTS.astype(np.float64)
    report("Current WEIGHTS (as shipped)", data, [probabilities(start, d) for d in data])
    if args.columns:  # an ablation: fit only these columns
        keep = [int(c) for c in args.columns.split(",")]
        data = [{**d, "rows": d["rows"][:, keep]} for d in data]
        start = start[keep]
    w = fit(data, args.fixture_weight, start)
    print("\nfitted WEIGHTS:", np.array2string(np.round(w, 2), separator=", "))
    report("In-sample (fitted on everything)", data, [probabilities(w, d) for d in data])
    cv_pairs = []
    for seed in range(args.repeats):
        fold = folds(data, args.folds, seed)
        probs = [None] * len(data)
        for f in range(args.folds):
            train = [d for d, g in zip(data, fold) if g != f]
            wf = fit(train, args.fixture_weight, start)
            for i, d in enumerate(data):
                if fold[i] == f:
                    probs[i] = probabilities(wf, d)
        report(f"{args.folds}-fold CV grouped by song (seed {seed})", data, probs)
        cv_pairs += [(float(p.max()), int(np.argmax(p)) == d["label"]) for d, p in zip(data, probs)
                     if d["set"] != "fixtures"]
    # Platt scaling of the chosen count's probability: confidence = sigmoid(a * logit(p) + b), fitted
    # on the cross-validated (dev set) probabilities, so a confidence of 0.9 is right about 9 times in 10
    x = np.array([np.log(min(c, 1 - 1e-6) / max(1 - c, 1e-6)) for c, _ in cv_pairs])
    y = np.array([ok for _, ok in cv_pairs], dtype=float)

    def platt_loss(ab: np.ndarray) -> float:
        q = 1 / (1 + np.exp(-(ab[0] * x + ab[1])))
        return -float(np.sum(y * np.log(q + 1e-12) + (1 - y) * np.log(1 - q + 1e-12)))

    a, b = minimize(platt_loss, np.array([1.0, 0.0]), method="Nelder-Mead").x
    print(f"\nPlatt calibration (CALIBRATION): a = {a:.3f}, b = {b:.3f}")
    calibrated = 1 / (1 + np.exp(-(a * x + b)))
    edges = (0.0, 0.4, 0.6, 0.7, 0.8, 0.9, 0.95, 1.0001)
    print("CV probability of the chosen count against how often it was right (dev set, all repeats):")
    for title, conf in (("raw", [c for c, _ in cv_pairs]), ("calibrated", calibrated)):
        print(f" {title}")
        for lo, hi in zip(edges, edges[1:]):
            b_ = [ok for c, (_, ok) in zip(conf, cv_pairs) if lo <= c < hi]
            if b_:
                print(f"  {lo:.2f}-{min(hi, 1):.2f}  n={len(b_):4d}  right {100 * np.mean(b_):5.1f} %")
    if args.misses:
        print("\nIn-sample misses:")
        for d in data:
            p = probabilities(w, d)
            if int(np.argmax(p)) != d["label"]:
                print(f"  {d['file']}: truth {d['counts'][d['label']]} bars ({d['bpm']:g}), chose "
                      f"{d['counts'][int(np.argmax(p))]} at {p.max():.2f}")


if __name__ == "__main__":
    main()
