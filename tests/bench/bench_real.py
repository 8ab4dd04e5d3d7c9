"""Benchmark (not a test): sp404d against Essentia on music the project did not make (issue 16).

    python tests/bench/bench_real.py [--devset /work/devset] [--corpus /work/corpus]
        [--essentia-python /work/essentia-venv/bin/python] [--cache /work/essentia_cache.json]
        [--sets songloops,hydrogen_songs,chords,tonal_loops,corpus] [--workers 2]

The real dev set (../shared/corpus/build_real_devset.sh OUT) carries its truth in OUT/truth.json,
taken from the material's own metadata (LMMS and Hydrogen song tempos, the chord asked of the
soundfont, the ABC tune's declared key). The dev corpus gives the "no key" and category figures
(truth from Hydrogen kit files and LMMS folders, see corpus_truth.py).

sp404d runs blind (names ignored) on the dev set, in a pool of `--workers` processes. Essentia
2.1b6 (RhythmExtractor2013 multifeature, KeyExtractor) runs in its own interpreter, because its
wheels need numpy < 2 (make one with `python -m venv V && V/bin/pip install 'numpy<2' essentia`);
its results are cached in a JSON file outside the repository, so re-runs cost only sp404d's time.

Prints the acceptance table (sp404d and Essentia on the same files), then reliability tables:
values binned by their confidence against how often they were right. A calibrated 0.9 is right
about 9 times in 10.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import subprocess
import sys
from multiprocessing import Pool
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(Path(__file__).resolve().parent)]

from sp404d.analysis.worker import analyse  # noqa: E402

NOTES = ["C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B"]
FLATS = {"Db": "C#", "Eb": "D#", "Gb": "F#", "Ab": "G#", "Bb": "A#"}
DEVSETS = ("songloops", "hydrogen_songs", "chords", "tonal_loops")
NO_KEY_DIRS = ("hydrogen", "lmms/beats", "lmms/drums", "lmms/effects")
TOLERANCE = 1.5  # BPM
HIGH = 0.8       # "confident" values: the issue's last row

ESSENTIA_SCRIPT = r"""
import json, sys
import essentia
essentia.log.infoActive = False
essentia.log.warningActive = False
import essentia.standard as es
rhythm = es.RhythmExtractor2013(method="multifeature")
keys = es.KeyExtractor()
for line in sys.stdin:
    path, want_tempo = json.loads(line)
    try:
        audio = es.MonoLoader(filename=path, sampleRate=44100)()
        out = {"path": path}
        if want_tempo:
            bpm, _, confidence, _, _ = rhythm(audio)
            out.update(bpm=float(bpm), bpm_confidence=float(confidence))
        key, scale, strength = keys(audio)
        out.update(key=key, scale=scale, key_strength=float(strength))
    except Exception as e:
        out = {"path": path, "error": f"{type(e).__name__}: {e}"}
    print(json.dumps(out), flush=True)
"""


def _blind(path: str) -> dict:
    return analyse(path, use_names=False)


def _named(path: str) -> dict:
    return analyse(path, use_names=True)


def essentia_results(paths: list[str], tempo_paths: set[str], python: str, cache_file: Path) -> dict[str, dict]:
    """Essentia's answers for `paths`, from the cache where the file is unchanged, else computed."""
    cache = json.loads(cache_file.read_text()) if cache_file.exists() else {}

    def stamp(p: str) -> str:
        st = os.stat(p)
        return f"{st.st_size}:{int(st.st_mtime)}"

    todo = [p for p in paths if cache.get(p, {}).get("stamp") != stamp(p)
            or (p in tempo_paths and "bpm" not in cache[p] and "error" not in cache[p])]
    if todo:
        print(f"Essentia: analysing {len(todo)} files (cached: {len(paths) - len(todo)})", file=sys.stderr, flush=True)
        proc = subprocess.run([python, "-c", ESSENTIA_SCRIPT], text=True, capture_output=True, check=True,
                              input="".join(json.dumps([p, p in tempo_paths]) + "\n" for p in todo))
        for line in proc.stdout.splitlines():
            if line.startswith("{"):
                r = json.loads(line)
                r["stamp"] = stamp(r["path"])
                cache[r.pop("path")] = r
        cache_file.write_text(json.dumps(cache, indent=0, sort_keys=True))
    return {p: cache.get(p, {}) for p in paths}


def mirex(est_key: str | None, est_scale: str | None, key: str, scale: str) -> float:
    """MIREX weighted key score (as mir_eval.key.weighted_score): exact 1, estimated key a fifth
    above 0.5, relative 0.3, parallel 0.2, else 0. No key at all scores 0."""
    if not est_key or est_scale not in ("major", "minor"):
        return 0.0
    e, r = NOTES.index(FLATS.get(est_key, est_key)), NOTES.index(key)
    if (e, est_scale) == (r, scale):
        return 1.0
    if est_scale == scale and (e - r) % 12 == 7:
        return 0.5
    if est_scale != scale and (
            (scale == "major" and (r - e) % 12 == 3) or (scale == "minor" and (e - r) % 12 == 3)):
        return 0.3
    if est_scale != scale and e == r:
        return 0.2
    return 0.0


def tempo_ok(bpm: float | None, truth: float, octaves: bool = False) -> bool:
    if bpm is None:
        return False
    return min(abs(bpm - truth * f) for f in ((0.5, 1.0, 2.0) if octaves else (1.0,))) <= TOLERANCE


def key_exact(key: str | None, scale: str | None, truth: dict) -> bool:
    return key is not None and FLATS.get(key, key) == truth["key"] and scale == truth["scale"]


class Table:
    def __init__(self) -> None:
        self.rows: list[tuple[str, str, str, str, str]] = []

    def add(self, group: str, metric: str, mine: str, theirs: str, target: str) -> None:
        self.rows.append((group, metric, mine, theirs, target))

    def print(self) -> None:
        head = ("set", "metric", "sp404d", "Essentia", "target")
        widths = [max(len(r[i]) for r in self.rows + [head]) for i in range(5)]
        line = lambda r: "| " + " | ".join(c.ljust(w) for c, w in zip(r, widths)) + " |"  # noqa: E731
        print(line(head))
        print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
        for r in self.rows:
            print(line(r))


def pct(n: int, d: int) -> str:
    return f"{100 * n / d:.1f} % ({n}/{d})" if d else "n/a"


def reliability(title: str, pairs: list[tuple[float, bool]]) -> None:
    """(confidence, right) pairs binned by confidence."""
    edges = (0.0, 0.2, 0.4, 0.6, 0.7, 0.8, 0.9, 0.95, 1.0001)
    print(f"\n{title}: {len(pairs)} values")
    print(f"  {'confidence':<12} {'n':>5} {'mean conf':>10} {'right':>8}")
    for lo, hi in zip(edges, edges[1:]):
        b = [(c, ok) for c, ok in pairs if lo <= c < hi]
        if b:
            mean = sum(c for c, _ in b) / len(b)
            right = sum(ok for _, ok in b) / len(b)
            print(f"  {lo:.2f}-{min(hi, 1.0):.2f}    {len(b):>5} {mean:>10.2f} {100 * right:>7.1f}%")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--devset", type=Path, default=Path("/work/devset"))
    ap.add_argument("--corpus", type=Path, default=Path("/work/corpus"))
    ap.add_argument("--essentia-python", default="/work/essentia-venv/bin/python")
    ap.add_argument("--cache", type=Path, default=Path("/work/essentia_cache.json"))
    ap.add_argument("--sets", default=",".join(DEVSETS + ("corpus",)))
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--no-essentia", action="store_true")
    ap.add_argument("--misses", action="store_true", help="list sp404d's wrong answers")
    ap.add_argument("--dump", type=Path, help="write sp404d's results as JSON here")
    args = ap.parse_args()
    sets = set(args.sets.split(","))

    truth = [t for t in json.loads((args.devset / "truth.json").read_text()) if t["set"] in sets] \
        if sets & set(DEVSETS) else []
    dev_paths = [str(args.devset / t["file"]) for t in truth]
    corpus_truth_map: dict[str, str] = {}
    no_key_paths: list[str] = []
    if "corpus" in sets:
        from corpus_truth import truth as corpus_truth

        corpus_truth_map = corpus_truth(args.corpus)
        no_key_paths = sorted(str(p) for d in NO_KEY_DIRS for p in (args.corpus / d).rglob("*") if p.is_file())
    named_paths = sorted(set(corpus_truth_map) | set(no_key_paths))

    with Pool(args.workers) as pool:
        mine = dict(zip(dev_paths, pool.map(_blind, dev_paths, chunksize=4)))
        named = dict(zip(named_paths, pool.map(_named, named_paths, chunksize=8)))
        blind_corpus = dict(zip(no_key_paths, pool.map(_blind, no_key_paths, chunksize=8)))
    if args.dump:
        args.dump.write_text(json.dumps({"devset": mine, "named": named, "blind": blind_corpus}, default=str))
    tempo_sets = {"songloops", "hydrogen_songs", "tonal_loops"}
    theirs = {} if args.no_essentia else essentia_results(
        dev_paths, {str(args.devset / t["file"]) for t in truth if t["set"] in tempo_sets},
        args.essentia_python, args.cache)

    table = Table()
    confident: list[bool] = []  # every sp404d value with confidence >= HIGH: right or not
    tempo_rel: list[tuple[float, bool]] = []
    key_rel: list[tuple[float, bool]] = []
    cat_rel: list[tuple[float, bool]] = []
    misses: list[str] = []

    def graded(rel: list, confidence: float | None, good: bool) -> None:
        """One value sp404d gave, judged: into its reliability table, and the confident share when sure."""
        rel.append((confidence or 0.0, good))
        if (confidence or 0.0) >= HIGH:
            confident.append(good)

    by_set = collections.defaultdict(list)
    for t, p in zip(truth, dev_paths):
        by_set[t["set"]].append((t, mine[p], theirs.get(p, {})))

    def judge(rel, field: str, items: list, ok: list, miss) -> None:
        """Each value into its reliability table (by its `field`_confidence), each wrong one into the misses."""
        for good, (t, r, _) in zip(ok, items):
            if r.get(field) is not None:
                graded(rel, r.get(f"{field}_confidence"), good)
            if not good:
                misses.append(miss(t, r))

    def tempo_rows(name: str, items: list, octave_row: bool, target: str, target_octave: str = "") -> None:
        ok = [tempo_ok(r.get("bpm"), t["bpm"]) for t, r, _ in items]
        ess = [tempo_ok(e.get("bpm"), t["bpm"]) for t, _, e in items]
        table.add(f"{name} ({len(items)})", f"tempo within ±{TOLERANCE} BPM", pct(sum(ok), len(ok)),
                  pct(sum(ess), len(ess)) if theirs else "—", target)
        if octave_row:
            ok2 = [tempo_ok(r.get("bpm"), t["bpm"], True) for t, r, _ in items]
            ess2 = [tempo_ok(e.get("bpm"), t["bpm"], True) for t, _, e in items]
            table.add(name, "allowing ×2 / ×½", pct(sum(ok2), len(ok2)),
                      pct(sum(ess2), len(ess2)) if theirs else "—", target_octave)
        alt = [ok_ or tempo_ok(r.get("bpm_alt"), t["bpm"]) for ok_, (t, r, _) in zip(ok, items)]
        table.add(name, "bpm or bpm_alt within ±1.5 (info)", pct(sum(alt), len(alt)), "—", "")
        judge(tempo_rel, "bpm", items, ok, lambda t, r: (
            f"{name} tempo: truth {t['bpm']:g} got {r.get('bpm')} (alt {r.get('bpm_alt')}, "
            f"conf {r.get('bpm_confidence')}, {r.get('bpm_source')}, kind {r.get('kind')}) {t['file']}"))

    def key_rows(name: str, items: list, metric: str, target: str, with_mirex: bool) -> None:
        ok = [key_exact(r.get("key"), r.get("scale"), t) for t, r, _ in items]
        ess = [key_exact(e.get("key"), e.get("scale"), t) for t, _, e in items]
        mine_s, theirs_s = pct(sum(ok), len(ok)), pct(sum(ess), len(ess)) if theirs else "—"
        if with_mirex:
            m = sum(mirex(r.get("key"), r.get("scale"), t["key"], t["scale"]) for t, r, _ in items) / len(items)
            e = sum(mirex(e.get("key"), e.get("scale"), t["key"], t["scale"]) for t, _, e in items) / len(items)
            mine_s += f" / {m:.2f}"
            theirs_s += f" / {e:.2f}" if theirs else ""
        table.add(f"{name} ({len(items)})", metric, mine_s, theirs_s, target)
        judge(key_rel, "key", items, ok, lambda t, r: (
            f"{name} key: truth {t['key']} {t['scale']} got {r.get('key')} {r.get('scale')} "
            f"(conf {r.get('key_confidence')}, kind {r.get('kind')}, cat {r.get('category')}) {t['file']}"))

    if by_set["songloops"]:
        tempo_rows("songloops", by_set["songloops"], True, "≥ 90 %", "≥ 99 %")
    if by_set["hydrogen_songs"]:
        tempo_rows("hydrogen_songs", by_set["hydrogen_songs"], False, "≥ 97 %")
    if by_set["chords"]:
        key_rows("chords", by_set["chords"], "root and quality exact", "≥ 97 %", False)
    if by_set["tonal_loops"]:
        key_rows("tonal_loops", by_set["tonal_loops"], "key exact / MIREX weighted", "≥ 75 % / ≥ 0.85", True)
        tempo_rows("tonal_loops", by_set["tonal_loops"], False, "≥ 85 %")

    if no_key_paths:
        for label, results in (("names hidden", blind_corpus), ("names shown", named)):
            given = [p for p in no_key_paths if results[p].get("ok") and results[p].get("key") is not None]
            ok = [p for p in no_key_paths if results[p].get("ok")]
            table.add(f"dev corpus {', '.join(NO_KEY_DIRS)} ({len(ok)})", f"share given no key, {label}",
                      pct(len(ok) - len(given), len(ok)), "—", "≥ 99 %")
            for p in given:
                r = results[p]
                graded(key_rel, r.get("key_confidence"), False)
                misses.append(f"no-key ({label}): got {r.get('key')} {r.get('scale')} conf {r.get('key_confidence')} "
                              f"cat {r.get('category')} tonalness {r.get('tonalness')} {p}")
    if corpus_truth_map:
        kits = [p for p in corpus_truth_map if "/hydrogen/" in p or "/lmms/drums/" in p]
        ok = [named[p].get("category") == corpus_truth_map[p] for p in kits]
        table.add(f"named dev-corpus drum kits ({len(kits)})", "category with names", pct(sum(ok), len(ok)), "—",
                  "≥ 99 %")
        for p in sorted(corpus_truth_map):
            r = named[p]
            good = r.get("category") == corpus_truth_map[p]
            graded(cat_rel, r.get("category_confidence"), good)
            if not good:
                misses.append(f"category: truth {corpus_truth_map[p]} got {r.get('category')} "
                              f"({r.get('category_source')}, conf {r.get('category_confidence')}) {p}")
    table.add("every set above", f"of values with confidence ≥ {HIGH}, share correct",
              pct(sum(confident), len(confident)), "—", "≥ 95 %")
    print()
    table.print()
    reliability("Tempo (dev set loops)", tempo_rel)
    reliability("Key (chords, tonal loops; keys given to the no-key corpus count as wrong)", key_rel)
    reliability("Category (dev corpus, names shown)", cat_rel)
    if args.misses:
        print("\nMisses:")
        for m in misses:
            print(" ", m)


if __name__ == "__main__":
    main()
