"""Benchmark (not a test): would a model learned from labels make "more like this" better? (issue 17)

    python tests/bench/bench_similar_learned.py /work/corpus [--gm /work/gmdrums] [--workers 2]

The shipped embedding is a plain standardisation (embedding.py). This script measures what the
embedding's own descriptors give when a model learns from labelled drums, on the same 420 sounds
and with the same figures as bench_similar.py. Each learned distance is mixed with the embedding's
(MIX), and a sound's neighbours are found by a model that did not hear its kit, except in the first
row, which shows what the descriptors can tell apart once a model has heard the very kit it is asked
about (an unfair figure: a user's library is kits no model has heard):

  LDA, heard every kit              learned on all 420 sounds and scored on them;
  LDA, kit held out                 a linear projection (shrinkage LDA) learned on the other
                                    Hydrogen kits, its distance mixed with the embedding's;
  trees' odds, kit held out         the category odds of 500 extremely randomised trees learned on
                                    the other kits, mixed the same way;
  LDA on GM kits only               learned on General MIDI drum kits (gm_drums.py: 1,093 hits of 3
                                    non-reserved Debian sound fonts, labelled by the GM drum map),
                                    a source the benchmark never scores: the fairest test of a
                                    shipped model;
  trees, GM + other kits            the trees learned on both.

It also prints each model's held-out accuracy as a classifier: the share of sounds whose category
it names from audio alone for a kit it never heard. A neighbour list can only be as clean as the
sounds' categories are separable, so this is the ceiling the retrieval figure runs into.

Needs scikit-learn (installed with librosa).
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_similar import analysed, euclidean, labelled_sounds, scores, summary  # noqa: E402

from sp404d.analysis import embedding  # noqa: E402

MIX = 0.5  # the learned distance's weight beside the embedding's (each per dimension); of 0.5, 1, 2 (and 4) tried, the best


def mixed(base: np.ndarray, learned: np.ndarray, dims: int, learned_dims: int) -> np.ndarray:
    return np.sqrt(base ** 2 / dims + MIX * learned ** 2 / learned_dims)


def held_out(x: np.ndarray, base: np.ndarray, cats: np.ndarray, kits: np.ndarray, fit, features,
             extra: tuple | None = None):
    """(mixed distances whose rows for a kit's sounds come from a model that did not hear that kit
    (every sound projected by that one model, so that the axes agree); held-out accuracy).
    `base`: the embedding's distances; `extra`: (vectors, categories) learned from as well, never scored."""
    out, right = np.zeros_like(base), []
    for kit in sorted(set(kits)):
        m = kits == kit
        tx, tc = x[~m], cats[~m]
        if extra is not None:
            tx, tc = np.vstack([tx, extra[0]]), np.concatenate([tc, extra[1]])
        model = fit(tx, tc)
        f = features(model, x)
        out[m] = mixed(base, euclidean(f), x.shape[1], f.shape[1])[m]
        right += list(model.predict(x[m]) == cats[m])
    return out, float(np.mean(right))


def lda_fit(x: np.ndarray, c: np.ndarray):
    from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
    return LinearDiscriminantAnalysis(solver="eigen", shrinkage=0.5).fit(x, c)


def lda_features(model, v: np.ndarray) -> np.ndarray:
    return model.transform(v)


def trees_fit(x: np.ndarray, c: np.ndarray):
    from sklearn.ensemble import ExtraTreesClassifier
    return ExtraTreesClassifier(500, min_samples_leaf=2, class_weight="balanced", random_state=0,
                                n_jobs=1).fit(x, c)


def trees_odds(model, v: np.ndarray) -> np.ndarray:
    return np.sqrt(model.predict_proba(v))


def gm_set(gm: Path, cache: Path, workers: int) -> tuple[np.ndarray, np.ndarray]:
    labels = json.loads((gm / "truth.json").read_text())
    paths = sorted(str(gm / p) for p in labels)
    results = analysed(paths, cache, workers)
    keep = [i for i, r in enumerate(results) if r.get("ok", True) and r.get("embedding")]
    return (np.array([embedding.unpack(results[i]["embedding"]) for i in keep]),
            np.array([labels[str(Path(paths[i]).relative_to(gm))] for i in keep]))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("corpus", type=Path)
    ap.add_argument("--gm", type=Path, help="the set gm_drums.py built (adds the GM rows)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--cache", type=Path, default=Path("/tmp/sp404d_similar.pkl"))
    args = ap.parse_args()
    warnings.filterwarnings("ignore")
    d = labelled_sounds(args.corpus, args.cache, args.workers)
    cats, kits, dup, layer, big = d["cats"], d["kits"], d["dup"], d["layer"], d["big"]
    x = d["vectors"] * np.sqrt(embedding.weights("all"))
    base = euclidean(x)
    rows = {"embedding (shipped)": (base, None)}

    model = lda_fit(x, cats)
    z = lda_features(model, x)
    rows["LDA, heard every kit (unfair)"] = (mixed(base, euclidean(z), x.shape[1], z.shape[1]),
                                             float((model.predict(x) == cats).mean()))
    rows["LDA, kit held out"] = held_out(x, base, cats, kits, lda_fit, lda_features)
    rows["trees' odds, kit held out"] = held_out(x, base, cats, kits, trees_fit, trees_odds)
    if args.gm:
        gv, gc = gm_set(args.gm, args.cache.with_name(args.cache.stem + "_gm.pkl"), args.workers)
        gx = gv * np.sqrt(embedding.weights("all"))
        model = lda_fit(gx, gc)
        z = lda_features(model, x)
        rows[f"LDA on GM kits only ({len(gc)})"] = (mixed(base, euclidean(z), x.shape[1], z.shape[1]),
                                                     float((model.predict(x) == cats).mean()))
        rows["trees, GM + other kits"] = held_out(x, base, cats, kits, trees_fit, trees_odds, (gx, gc))

    print(f"\nLearned from labels, {len(cats)} sounds of the named dev-corpus drum kits, 10 nearest each")
    print(f"{'method':<34} {'precision@10':>12} {'other drums':>12} {'across instr.':>14} {'classifier acc.':>16}")
    for name, (dist, acc) in rows.items():
        r = summary(scores(dist, cats, kits, dup, layer), cats, big)
        print(f"{name:<34} {r['p']:>12.3f} {r['other']:>12.3f} {r['macro']:>14.3f} "
              f"{'' if acc is None else f'{acc:.3f}':>16}")


if __name__ == "__main__":
    main()
