"""Train the one-shot category model from the dev corpus and write
sp404d/analysis/category_model.json (benchmark tooling, not a test).

    python tests/bench/train_category.py CORPUS [--write]

Labels come from corpus_truth (Hydrogen instrument names, LMMS folders), never from the file
names the classifier will later be blind to. Cross-validation holds out whole kits, or in the LMMS
set whole instrument families (GroupKFold over corpus_truth.group_of), so the printed accuracy is
that of a kit the model has never heard.
"""

from __future__ import annotations

import argparse
import json
import sys
from multiprocessing import Pool
from pathlib import Path

import numpy as np

sys.path[:0] = [str(Path(__file__).resolve().parent), str(Path(__file__).resolve().parents[2])]
from corpus_truth import group_of, truth  # noqa: E402

from sp404d.analysis import category as cat  # noqa: E402
from sp404d.analysis import features, key  # noqa: E402
from sp404d.analysis import spectra as sp  # noqa: E402
from sp404d.analysis.decode import decode  # noqa: E402

MODEL_PATH = Path(__file__).resolve().parents[2] / "sp404d" / "analysis" / cat.MODEL_FILE


def audio_vector(path: str) -> list[float] | None:
    try:
        d = decode(path)
    except Exception:
        return None
    s = sp.compute(sp.to_analysis_rate(d.excerpt, d.samplerate))
    onsets = sp.pick_onsets(sp.onset_envelope(s)).size
    feats = features.describe(s, d.peak, d.rms, onsets, d.duration)
    tonal = key.tonalness(key.profile_chroma(sp.chroma(s), s.energy))
    return cat.vector(s, d.duration, feats, cat.envelope_shape(s), tonal).tolist()


SYNTHETIC = {"bass": "bass", "chord": "keys/melodic", "pluck": "keys/melodic", "pad": "pad"}


def synthetic_tonal(folder: Path) -> dict[str, str]:
    """Tonal one-shots in every key with varied timbre: the corpus has few basses, pads and keys,
    all from one folder each. Rendered by fixtures/music.py with known truth."""
    from fixtures import music

    labels = {}
    for k in range(12):
        for scale in ("major", "minor"):
            for kind, category in SYNTHETIC.items():
                seed = 1 + k * 10 + (scale == "minor") * 5 + list(SYNTHETIC).index(kind)
                path = music.write(folder / f"synthetic_{kind}_{k}_{scale}.wav",
                                   music.render_tonal_oneshot(k, scale, kind, seed=seed))
                labels[str(path)] = category
    return labels


def dataset(corpus: Path, synthetic: Path | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]:
    labels = {p: c for p, c in truth(corpus).items() if c not in ("drum-loop", "melodic-loop", "vocal-loop")}
    if synthetic is not None:
        labels.update(synthetic_tonal(synthetic))
    paths = sorted(labels)
    with Pool(2) as pool:
        vectors = pool.map(audio_vector, paths, chunksize=8)
    keep = [i for i, v in enumerate(vectors) if v is not None]
    x = np.array([vectors[i] for i in keep])
    y = np.array([labels[paths[i]] for i in keep])
    groups = np.array([group_of(paths[i]) for i in keep])
    return x, y, groups, [paths[i] for i in keep]


def fit(x, y, c_value):
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    scaler = StandardScaler().fit(x)
    clf = LogisticRegression(C=c_value, max_iter=5000, class_weight="balanced").fit(scaler.transform(x), y)
    return scaler, clf


def weights(scaler, clf) -> dict:
    """What the model file holds of a fitted model (category.from_weights reads it back)."""
    return {"classes": clf.classes_.tolist(), "mean": scaler.mean_.tolist(), "scale": scaler.scale_.tolist(),
            "coef": clf.coef_.round(6).tolist(), "intercept": clf.intercept_.round(6).tolist()}


def cross_validate(x, y, groups, c_value) -> tuple[float, np.ndarray]:
    from sklearn.model_selection import GroupKFold

    predicted = np.empty_like(y)
    for train, test in GroupKFold(n_splits=5).split(x, y, groups):
        scaler, clf = fit(x[train], y[train], c_value)
        predicted[test] = clf.predict(scaler.transform(x[test]))
    return float((predicted == y).mean()), predicted


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("corpus", type=Path)
    ap.add_argument("--write", action="store_true", help="write the model file")
    args = ap.parse_args()
    import tempfile

    tmp = tempfile.mkdtemp(prefix="sp4train-")
    x, y, groups, paths = dataset(args.corpus, Path(tmp) / "synthetic" / "tonal")
    corpus_only = np.array([not p.startswith(tmp) for p in paths])
    print(f"{len(y)} labelled one-shots ({corpus_only.sum()} from the corpus, {(~corpus_only).sum()} synthetic), "
          f"{len(set(groups))} kits or instrument families, {len(set(y))} categories")
    best = None
    for c_value in (0.01, 0.03, 0.1, 0.3, 1.0):
        _, predicted = cross_validate(x, y, groups, c_value)
        accuracy = float((predicted[corpus_only] == y[corpus_only]).mean())
        print(f"C={c_value:<5} held-out-kit accuracy on the corpus {accuracy:.3f} "
              f"(synthetic tonal held out: {(predicted[~corpus_only] == y[~corpus_only]).mean():.3f})")
        if best is None or accuracy > best[0]:
            best = (accuracy, c_value)
    if args.write:
        scaler, clf = fit(x, y, best[1])
        model = {**weights(scaler, clf),
                 "trained_on": f"{int(corpus_only.sum())} one-shots of the dev corpus and "
                               f"{int((~corpus_only).sum())} synthetic tonal one-shots", "C": best[1],
                 "held_out_kit_accuracy": round(best[0], 4)}
        MODEL_PATH.write_text(json.dumps(model) + "\n")
        print(f"wrote {MODEL_PATH} (C={best[1]})")


if __name__ == "__main__":
    main()
