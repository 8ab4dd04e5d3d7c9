"""The "more like this" vector: its form, its indifference to level, that a kick's nearest is a
kick, and that an aspect's weights look at that aspect only. Sounds rendered by fixtures/music.py
and analysed by the real worker."""

from __future__ import annotations

import numpy as np
import pytest

from fixtures import music
from sp404d.analysis import embedding
from sp404d.analysis.worker import analyse


def _kick(base_hz: float, decay: float) -> np.ndarray:
    """A pitch-swept sine with an exponential tail, like music.synth_hits' kick, tuned differently."""
    n = int(0.5 * music.SR)
    t = np.arange(n) / music.SR
    sweep = 2 * np.pi * np.cumsum(base_hz + 120 * np.exp(-t / 0.035)) / music.SR
    return np.sin(sweep) * np.exp(-t / decay)


@pytest.fixture(scope="module")
def vectors(tmp_path_factory) -> dict[str, np.ndarray]:
    root = tmp_path_factory.mktemp("embedding")
    hits = music.synth_hits(seed=3)
    sounds = {"kick": hits["kick"] * 0.8, "kick_quiet": hits["kick"] * 0.8 * 10 ** (-6 / 20),
              "other_kick": _kick(42.0, 0.25) * 0.7, "hat": hits["hat"], "snare": hits["snare"] * 0.5}
    out = {}
    for name, y in sounds.items():
        r = analyse(str(music.write(root / f"{name}.wav", y.astype(np.float32))), use_names=False)
        assert r["ok"], r
        out[name] = embedding.unpack(r["embedding"])
    return out


def test_vector_has_its_dimension_and_is_finite_float32(vectors):
    v = vectors["kick"]
    assert v.shape == (embedding.DIM,) and v.dtype == np.float32
    assert np.isfinite(v).all() and np.abs(v).max() <= embedding.CLIP
    assert np.allclose(embedding.unpack(embedding.pack(v)), v)


def test_a_copy_6_db_quieter_is_nearly_the_same_vector(vectors):
    kick, quiet = vectors["kick"], vectors["kick_quiet"]
    gap = embedding.distances(kick, quiet[None])[0]
    to_hat = embedding.distances(kick, vectors["hat"][None])[0]
    assert gap < 0.05 * to_hat, (gap, to_hat)


def test_a_kick_is_nearer_another_kick_than_a_hat_or_a_snare(vectors):
    kick = vectors["kick"]
    d = {n: embedding.distances(kick, vectors[n][None])[0] for n in ("other_kick", "hat", "snare")}
    assert d["other_kick"] < d["hat"] and d["other_kick"] < d["snare"], d


def test_aspect_weights_select_their_block_only():
    slices = sorted(embedding.ASPECTS.values(), key=lambda s: s.start)
    assert slices[0].start == 0 and slices[-1].stop == embedding.DIM
    assert all(a.stop == b.start for a, b in zip(slices, slices[1:]))
    for name, sl in embedding.ASPECTS.items():
        w = embedding.weights(name)
        assert (w[sl] > 0).all() and not np.delete(w, np.arange(sl.start, sl.stop)).any()
    assert (embedding.weights("all") > 0).all()
    with pytest.raises(ValueError):
        embedding.weights("colour")


def test_an_aspect_distance_ignores_differences_elsewhere():
    rng = np.random.default_rng(0)
    q = rng.normal(size=embedding.DIM).astype(np.float32)
    other = q.copy()
    timbre = embedding.ASPECTS["timbre"]
    other[timbre] += 3.0  # a different timbre, the same envelope and pitch
    d = {a: embedding.distances(q, other[None], a)[0] for a in embedding.ASPECT_NAMES}
    assert d["envelope"] == 0.0 and d["pitch"] == 0.0
    assert d["timbre"] > 0.0 and d["all"] > 0.0
