"""Accuracy benchmark (not a test): tempo, key, kind and category against known truth.

    python tests/bench/bench_accuracy.py [--loops 300] [--corpus CORPUS] [--seed 11]

- Loops from fixtures/music.py (60-180 BPM; 1, 2, 4, 8 bars; straight and swung; drums, drums +
  bass + chords, chords only; all 24 keys), written with neutral names and analysed blind
  (names ignored). With --corpus the drum hits are real recordings from the dev corpus.
- One-shots: synthetic drum hits and tonal stabs/bass/plucks in 24 keys, plus every one-shot of the
  dev corpus: how many wrongly get a BPM.
- Category on the dev corpus (truth from Hydrogen kit files and LMMS folders, see corpus_truth.py),
  names hidden and names shown, with the confusion matrix. The shipped audio model was trained on
  this corpus, so those figures are in-sample; --held-out adds both again with, for each kit (or
  LMMS instrument family, see corpus_truth.group_of), a model trained without it (what a user's own
  kits get).
"""

from __future__ import annotations

import argparse
import collections
import sys
import tempfile
from multiprocessing import Pool
from pathlib import Path


ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(Path(__file__).resolve().parent)]

from fixtures import music  # noqa: E402
from sp404d.analysis import key as key_mod  # noqa: E402
from sp404d.analysis import spectra as sp  # noqa: E402
from sp404d.analysis.decode import decode  # noqa: E402
from sp404d.analysis.describe import tonal_vectors  # noqa: E402
from sp404d.analysis.worker import analyse  # noqa: E402


def _blind(path: str) -> dict:
    return analyse(path, use_names=False)


def _named(path: str) -> dict:
    return analyse(path, use_names=True)


def _with_model(task: tuple) -> dict:
    """Analyse with a given category model (one trained without this file's kit); the pool's
    worker keeps the shipped model for whatever it runs next."""
    path, model, use_names = task
    from sp404d.analysis import category

    shipped, category.model = category.model, lambda: model
    try:
        return analyse(path, use_names=use_names)
    finally:
        category.model = shipped


def _profiles(path: str) -> dict:
    """Key by every profile, with and without the opening-chord re-rank."""
    d = decode(path)
    s = sp.compute(sp.to_analysis_rate(d.excerpt, d.samplerate))
    vector, opening = tonal_vectors(s)
    out = {}
    for name in key_mod.PROFILES:
        out[(name, "profile only")] = key_mod.estimate(vector, None, name)[:2]
        out[(name, "with opening")] = key_mod.estimate(vector, opening, name)[:2]
    return out


def pct(n: int, d: int) -> str:
    return f"{100 * n / d:5.1f}% ({n}/{d})" if d else "   n/a"


def loops(n: int, seed: int, corpus: Path | None, pool: Pool, tmp: Path) -> None:
    hits = music.hits_from_corpus(corpus) if corpus else None
    truths = music.loop_set(n, seed)
    paths = [str(music.write(tmp / f"loop_{i:04d}.wav", music.render_loop(t, hits))) for i, t in enumerate(truths)]
    results = pool.map(_blind, paths, chunksize=4)
    print(f"\n== Loops: {n} fixtures, names hidden, drum hits {'from the dev corpus' if corpus else 'synthesised'}")
    groups = collections.defaultdict(lambda: [0, 0, 0, 0])  # bpm ok, octave ok, loop kind, n
    for t, r in zip(truths, results):
        ok = r["bpm"] is not None and abs(r["bpm"] - t.bpm) <= 1.5
        octave = r["bpm"] is not None and min(abs(r["bpm"] - t.bpm * f) for f in (0.5, 1, 2)) <= 1.5
        for g in ("all", f"style={t.style}", f"bars={t.bars}", f"swing={t.swing}"):
            groups[g][0] += ok
            groups[g][1] += octave
            groups[g][2] += r["kind"] == "loop"
            groups[g][3] += 1
    print(f"{'group':<14} {'BPM within 1.5':>20} {'allowing x2/x0.5':>20} {'kind = loop':>20}")
    for g, (ok, octave, kind, total) in groups.items():
        print(f"{g:<14} {pct(ok, total):>20} {pct(octave, total):>20} {pct(kind, total):>20}")
    sources = collections.Counter(r["bpm_source"] for r in results)
    print("BPM sources:", dict(sources))
    tonal = [(t, r, p) for t, r, p in zip(truths, results, paths) if t.tonal]
    exact = sum(r["key"] == music.NOTE_NAMES[t.key] and r["scale"] == t.scale for t, r, _ in tonal)
    keyed_drums = sum(r["key"] is not None for t, r in zip(truths, results) if not t.tonal)
    print(f"key exact on tonal loops: {pct(exact, len(tonal))}; drum-only loops given a key: "
          f"{pct(keyed_drums, len(truths) - len(tonal))}")
    table = pool.map(_profiles, [p for _, _, p in tonal], chunksize=4)
    print(f"{'key profile':<12} {'profile only':>20} {'with opening chord':>20}")
    for name in key_mod.PROFILES:
        row = [sum(est[(name, mode)] == (t.key, t.scale) for (t, _, _), est in zip(tonal, table))
               for mode in ("profile only", "with opening")]
        print(f"{name:<12} {pct(row[0], len(tonal)):>20} {pct(row[1], len(tonal)):>20}")


def one_shots(corpus: Path | None, pool: Pool, tmp: Path, truth: dict) -> None:
    paths, tonal_truth = [], {}
    hits = music.synth_hits(1)
    for i, (role, y) in enumerate(hits.items()):
        paths.append(str(music.write(tmp / f"hit_{i}.wav", y)))
    for k in range(12):
        for scale in ("major", "minor"):
            for kind in ("chord", "bass", "pluck"):
                p = str(music.write(tmp / f"tone_{k}_{scale}_{kind}.wav", music.render_tonal_oneshot(k, scale, kind)))
                paths.append(p)
                tonal_truth[p] = (k, scale, kind)
    if corpus:
        paths += [p for p, c in truth.items() if c not in ("drum-loop", "melodic-loop")]
    results = pool.map(_blind, paths, chunksize=8)
    with_bpm = sum(r.get("bpm") is not None for r in results if r["ok"])
    print(f"\n== One-shots: {len(paths)} (synthetic hits, 72 tonal stabs/bass/plucks"
          f"{', every one-shot of the dev corpus' if corpus else ''}), names hidden")
    print(f"given a BPM: {pct(with_bpm, sum(r['ok'] for r in results))}")
    by_kind = collections.defaultdict(lambda: [0, 0])
    for p, r in zip(paths, results):
        if p in tonal_truth:
            k, scale, kind = tonal_truth[p]
            by_kind[kind][0] += r["key"] == music.NOTE_NAMES[k] and (kind != "chord" or r["scale"] == scale)
            by_kind[kind][1] += 1
    for kind, (ok, total) in by_kind.items():
        print(f"tonal one-shot key ({kind}{', root and scale' if kind == 'chord' else ', root'}): {pct(ok, total)}")


def held_out_models(corpus: Path, tmp: Path, groups_wanted: set[str]) -> dict[str, dict]:
    """For each held-out group (corpus_truth.group_of: a kit, or an LMMS instrument family), the
    category model trained as train_category.py trains it, without that group."""
    import json

    import numpy as np
    import train_category as tc

    from sp404d.analysis.category import from_weights

    x, y, groups, _ = tc.dataset(corpus, tmp / "synthetic" / "tonal")
    c_value = json.loads(tc.MODEL_PATH.read_text())["C"]
    models = {}
    for g in sorted(groups_wanted):
        keep = np.array([grp != g for grp in groups])
        models[g] = from_weights(tc.weights(*tc.fit(x[keep], y[keep], c_value)))
    return models


def categories(truth: dict, pool: Pool, models: dict[str, dict] | None = None, aside: dict | None = None) -> None:
    """Accuracy against `truth`; `aside` (labels from key-slot kit names, corpus_truth.slot_named)
    is analysed too and reported on its own line, never mixed into the figures."""
    from corpus_truth import group_of

    aside = aside or {}
    paths = sorted(truth) + sorted(aside)
    runs = [("names hidden", _blind, False), ("names shown", _named, True)]
    for label, fn, use_names in runs + ([(f"{label}, kit held out of the model", None, names)
                                          for label, _, names in runs] if models else []):
        if fn is None:
            results = pool.map(_with_model, [(p, models[group_of(p)], use_names) for p in paths], chunksize=8)
        else:
            results = pool.map(fn, paths, chunksize=8)
        total = report(label, paths[:len(truth)], results[:len(truth)], truth)
        if aside:
            agree = sum(r.get("category") == aside[p] for p, r in zip(paths[len(truth):], results[len(truth):]))
            print(f"  key-slot kit names (not in the truth above): the category agrees with {pct(agree, len(aside))}; "
                  f"counted in, the figure above would be {pct(agree + total, len(paths))}")


def report(label: str, paths: list[str], results: list[dict], truth: dict) -> int:
    """Print the accuracy, the confusion matrix and (names shown) the misses; return how many were right."""
    got = [r.get("category") for r in results]
    want = [truth[p] for p in paths]
    total = sum(g == w for g, w in zip(got, want))
    print(f"\n== Category on the dev corpus, {label}: {pct(total, len(paths))}")
    classes = sorted(set(want) | {g for g in got if g})
    print(" " * 13 + " ".join(c[:5].rjust(5) for c in classes) + "  accuracy")
    for c in sorted(set(want)):
        row = [sum(1 for g, w in zip(got, want) if w == c and g == k) for k in classes]
        n = sum(1 for w in want if w == c)
        print(f"{c:>12} " + " ".join(str(v).rjust(5) for v in row) + f"  {pct(row[classes.index(c)], n)}")
    if label.startswith("names shown"):
        sources = collections.Counter(r.get("category_source") for r in results)
        print("category sources:", dict(sources))
        from sp404d.analysis import tags

        named = [tags.category_from_name(p, is_loop=r.get("kind") == "loop") is not None
                 for p, r in zip(paths, results)]
        for says, title in ((True, "the name or a folder names the instrument"), (False, "the names say nothing")):
            pick = [g == w for g, w, n in zip(got, want, named) if n == says]
            print(f"  files where {title}: {pct(sum(pick), len(pick))}")
        for p, g, w, r in zip(paths, got, want, results):
            if g != w:
                print(f"  missed: {w:>12} taken for {g} ({r.get('category_source')}): {Path(p).parent.name}/{Path(p).name}")
    return total


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--loops", type=int, default=300)
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--corpus", type=Path)
    ap.add_argument("--held-out", action="store_true", help="also category with each kit held out of the model")
    ap.add_argument("--categories-only", action="store_true", help="skip the loop and one-shot benchmarks")
    args = ap.parse_args()
    from corpus_truth import slot_named
    from corpus_truth import truth as corpus_truth

    truth = corpus_truth(args.corpus) if args.corpus else {}
    aside = slot_named(args.corpus) if args.corpus else {}
    with tempfile.TemporaryDirectory(prefix="sp4acc-") as tmp, Pool(2) as pool:
        if not args.categories_only:
            loops(args.loops, args.seed, args.corpus, pool, Path(tmp))
            one_shots(args.corpus, pool, Path(tmp), {**truth, **aside})  # every labelled one-shot
        if truth:
            from corpus_truth import group_of

            groups = {group_of(p) for p in [*truth, *aside]}
            models = held_out_models(args.corpus, Path(tmp), groups) if args.held_out else None
            categories(truth, pool, models, aside)


if __name__ == "__main__":
    main()
