"""The similarity index: its lookups against embedding.distances, and kept current by the real
writer on a real SQLite file; and an old library getting its vectors by re-analysis."""

import sqlite3

import numpy as np
import pytest

from sp404d.analysis import embedding
from sp404d.analysis.worker import ANALYSIS_VERSION
from sp404d.library import commands as c
from sp404d.library.schema import SCHEMA_VERSION, open_library
from sp404d.library.similar_index import SimilarIndex
from sp404d.library.writer import Writer
from tests.conftest import DaemonEnv, wait_until
from tests.test_dedupe import quantised, write
from tests.test_fingerprint import drum_hit
from tests.test_writer import fs, result


def vectors(n: int, seed: int = 0) -> np.ndarray:
    # through pack/unpack, as the library keeps them (float16)
    raw = np.random.default_rng(seed).normal(size=(n, embedding.DIM)).astype(np.float32)
    return np.stack([embedding.unpack(embedding.pack(v)) for v in raw])


def filled(m: np.ndarray, ids=None) -> SimilarIndex:
    index = SimilarIndex()
    with index._lock:
        for i, v in zip(ids if ids is not None else range(1, len(m) + 1), m):
            index._set(int(i), v)
    return index


@pytest.mark.parametrize("aspect", embedding.ASPECT_NAMES)
def test_nearest_is_embedding_distances_ranked(aspect):
    m = vectors(300)
    index = filled(m)
    q = m[7] + 0.1
    d = embedding.distances(q, m, aspect)
    want = sorted(((i + 1, float(d[i])) for i in range(len(m))), key=lambda h: (h[1], h[0]))
    assert index.nearest(q, 10, aspect) == want[:10]
    assert index.nearest(q, None, aspect) == want
    among = {5, 9, 100, 200, 201, 9999}  # an unknown sound is simply not there
    assert index.nearest(q, 3, aspect, among=among, exclude={9}) == [h for h in want if h[0] in among - {9}][:3]
    assert index.nearest(q, 0, aspect) == []


def test_ties_are_broken_by_id_and_removal_keeps_the_rest():
    v = vectors(1)[0]
    index = filled(np.stack([v] * 6), ids=[30, 10, 50, 20, 40, 60])
    assert [s for s, _ in index.nearest(v, 3)] == [10, 20, 30]
    with index._lock:
        index._drop(10)
        index._drop(60)  # the last row
    assert len(index) == 4 and 10 not in index
    assert [s for s, _ in index.nearest(v, None)] == [20, 30, 40, 50]
    assert all(np.array_equal(index.vector(s), v) for s in (20, 30, 40, 50))


def test_the_writer_keeps_the_index_current(tmp_path):
    m = vectors(4, seed=1)
    db = open_library(tmp_path / "lib.db")
    index = SimilarIndex()
    w = Writer(db, batch_ms=20, similar=index)
    w.start()
    try:
        assert index.ready.wait(10) and len(index) == 0
        for i in range(3):
            w.put(c.RecordResult(fs(f"/d/{i}.wav"), f"b{i}", result(f"p{i}", embedding=embedding.pack(m[i]))))
        w.put(c.RecordResult(fs("/d/old.wav"), "bo", result("po")))  # no vector (an older analyser): not offered
        w.flush(10)
        ids = dict(db.execute_sql("SELECT pcm_hash, id FROM sample").fetchall())
        assert len(index) == 3 and ids["po"] not in index
        assert [s for s, _ in index.nearest(m[0], 1)] == [ids["p0"]]
        # described again by a newer analyser, with another vector
        w.put(c.RecordResult(fs("/d/1.wav", 100, 2), "b1", result("p1", analysis_version=2, embedding=embedding.pack(m[3]))))
        w.flush(10)
        assert np.array_equal(index.vector(ids["p1"]), m[3])
        # a sound that joins another's group is that group's sound from then on
        db.execute_sql("UPDATE sample SET group_id = ?, canonical = 0 WHERE id = ?", (ids["p0"], ids["p2"]))
        index.refresh(db, [ids["p0"], ids["p2"]])
        assert sorted(s for s, _ in index.nearest(m[0], None)) == [ids["p0"], ids["p1"]]
    finally:
        w.stop(timeout=10)
    again = SimilarIndex().load(db)  # a restart: the same index from the library
    assert sorted(s for s, _ in again.nearest(m[0], None)) == [ids["p0"], ids["p1"]]
    assert np.array_equal(again.vector(ids["p0"]), m[0])
    db.close()


def test_an_old_library_gets_embeddings_on_re_analysis(tmp_path):
    """A library as the previous release leaves it (schema 7, analysis version 8, no vectors):
    the upgrade adds the column, and re-analysis fills it for every sound."""
    env = DaemonEnv(tmp_path)
    for i in range(3):
        write(tmp_path / "Packs" / f"hit{i}.wav", quantised(drum_hit(20 + i)))
    assert env.cli("import", str(tmp_path / "Packs")).returncode == 0
    with sqlite3.connect(env.library) as conn:  # back to the previous release's library
        conn.execute("ALTER TABLE sample DROP COLUMN embedding")
        conn.execute("UPDATE setting SET value = '7' WHERE key = 'schema_version'")
        conn.execute("UPDATE sample SET analysis_version = 8")
    open_library(env.library).close()  # the writer's opening upgrades it
    assert env.rows("SELECT COUNT(*), COUNT(embedding) FROM sample") == [(3, 0)]
    assert env.rows("SELECT value FROM setting WHERE key = 'schema_version'") == [(str(SCHEMA_VERSION),)]

    r = env.cli("import", "--reanalyse")
    assert r.returncode == 0, r.stderr
    rows = env.rows("SELECT analysis_version, embedding FROM sample")
    assert len(rows) == 3 and {v for v, _ in rows} == {ANALYSIS_VERSION}
    assert all(embedding.unpack(blob).shape == (embedding.DIM,) for _, blob in rows)
    loaded = SimilarIndex().load(open_library(env.library, migrate_schema=False))
    assert len(loaded) == 3


def test_the_daemon_brings_an_old_library_up_to_date_when_idle(tmp_path):
    """Samples an older analyser described, in a watched folder, are re-analysed by the daemon
    on its own once it is idle: they get the current version and a vector, and `similar` knows them."""
    env = DaemonEnv(tmp_path)
    for i in range(3):
        write(env.drop / "old" / f"hit{i}.wav", quantised(drum_hit(30 + i)))
    assert env.cli("import", str(env.drop)).returncode == 0
    with sqlite3.connect(env.library) as conn:
        conn.execute("UPDATE sample SET analysis_version = ?, embedding = NULL", (ANALYSIS_VERSION - 1,))
    env.start()
    wait_until(lambda: env.rows("SELECT COUNT(*) FROM sample WHERE analysis_version = ? AND embedding IS NOT NULL",
                                (ANALYSIS_VERSION,)) == [(3,)], 90, what="the background re-analysis")
    assert env.status()["totals"].get("outdated", 0) == 0
    assert len(env.request("similar", ref="hit0.wav", limit=5)["sounds"]) == 2
    assert env.stop() == 0
