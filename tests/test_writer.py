"""The one writer, on a real SQLite file."""

import subprocess
import sys
import time

import pytest

from sp404d.library import commands as c
from sp404d.library import queries
from sp404d.library.models import Failure, ImportRun, Location, Sample
from sp404d.library.schema import SCHEMA_VERSION, open_library, schema_version
from sp404d.library.writer import Writer


def result(pcm_hash, **kw):
    return {"ok": True, "pcm_hash": pcm_hash, "samplerate": 44100, "channels": 1, "subtype": "PCM_16",
            "bit_depth": 16, "frames": 4410, "duration": 0.1, "analysis_version": 1, "container": "wav", **kw}


@pytest.fixture
def lib(tmp_path):
    db = open_library(tmp_path / "lib.db")
    effects = []
    w = Writer(db, on_commit=effects.extend, batch_ms=20)
    w.start()
    yield db, w, effects
    w.stop(timeout=10)
    db.close()


def fs(path, size=100, mtime=1):
    return c.FileStat(path, size, mtime)


def test_schema_version_is_stored(lib):
    db, _, _ = lib
    assert schema_version(db) == SCHEMA_VERSION
    assert db.execute_sql("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_exact_duplicates_become_one_sample_with_many_locations(lib):
    db, w, effects = lib
    w.put(c.RecordResult(fs("/d/a.wav"), "bytesA", result("pcm1")))
    w.put(c.RecordResult(fs("/d/a.flac"), "bytesB", result("pcm1", container="flac")))
    w.put(c.RecordCopy(fs("/d/copy.wav"), "bytesA"))
    w.put(c.RecordResult(fs("/d/other.wav"), "bytesC", result("pcm2")))
    w.flush(10)
    assert Sample.select().count() == 2
    matches = {loc.path: loc.match for loc in Location.select()}
    assert matches == {"/d/a.wav": "first", "/d/a.flac": "exact-pcm", "/d/copy.wav": "exact-bytes", "/d/other.wav": "first"}
    assert len({loc.sample_id for loc in Location.select().where(Location.path != "/d/other.wav")}) == 1
    assert [e[2] for e in effects if e[0] == "recorded"] == ["first", "exact-pcm", "exact-bytes", "first"]


def test_rerecording_a_path_updates_it_in_place(lib):
    _, w, _ = lib
    w.put(c.RecordResult(fs("/d/a.wav", 100, 1), "b1", result("pcm1")))
    w.put(c.RecordResult(fs("/d/a.wav", 120, 2), "b2", result("pcm2")))
    w.flush(10)
    loc = Location.get()
    assert Location.select().count() == 1 and (loc.size, loc.mtime_ns, loc.match) == (120, 2, "first")
    assert loc.sample.pcm_hash == "pcm2"


def test_failures_count_attempts_and_clear_on_success(lib):
    _, w, effects = lib
    w.put(c.RecordFailure(fs("/d/bad.wav"), "corrupt", "truncated"))
    w.put(c.RecordFailure(fs("/d/bad.wav", 50, 2), "corrupt", "truncated"))
    w.flush(10)
    f = Failure.get()
    assert (f.category, f.attempts, f.size) == ("corrupt", 2, 50)
    w.put(c.RecordResult(fs("/d/bad.wav", 60, 3), "b", result("p")))
    w.flush(10)
    assert Failure.select().count() == 0 and Location.select().count() == 1


def test_moves_and_missing_never_delete(lib):
    _, w, effects = lib
    for name in ("a", "b", "c"):
        w.put(c.RecordResult(fs(f"/d/x/{name}.wav"), f"b{name}", result(f"p{name}")))
    w.put(c.MoveLocation("/d/x/a.wav", "/d/x/renamed.wav"))
    w.put(c.MoveTree("/d/x", "/d/y"))
    w.put(c.MoveLocation("/d/x/c.wav", "/d/y/c.wav"))  # watchdog's sub-moved event after the tree move
    w.put(c.MarkMissing(paths=("/d/y/b.wav",)))
    w.put(c.MoveLocation("/d/unknown.wav", "/d/new.wav"))
    w.flush(10)
    rows = {loc.path: loc.state for loc in Location.select()}
    assert rows == {"/d/y/renamed.wav": "present", "/d/y/b.wav": "missing", "/d/y/c.wav": "present"}
    assert ("retry", "/d/new.wav", None) in effects
    w.put(c.MarkMissing(under="/d/y"))
    w.flush(10)
    assert Location.select().where(Location.state == "present").count() == 0
    assert Sample.select().count() == 3


def test_path_prefix_is_not_a_case_insensitive_like(lib):
    _, w, _ = lib
    w.put(c.RecordResult(fs("/d/Kit/a.wav"), "b1", result("p1")))
    w.put(c.RecordResult(fs("/d/kit/a.wav"), "b2", result("p2")))
    w.put(c.MarkMissing(under="/d/kit"))
    w.flush(10)
    assert Location.get(Location.path == "/d/Kit/a.wav").state == "present"


def test_invalid_utf8_names_are_kept_exactly(lib):
    _, w, _ = lib
    name = b"/d/caf\xe9.wav".decode("utf-8", "surrogateescape")
    w.put(c.RecordResult(fs(name), "b", result("p")))
    w.flush(10)
    assert Location.get().path == name


def test_commands_are_batched_into_few_transactions(lib):
    _, w, _ = lib
    before = w.transactions
    for i in range(2000):
        w.put(c.RecordResult(fs(f"/d/{i}.wav"), f"b{i}", result(f"p{i}")))
    w.flush(30)
    assert Location.select().count() == 2000
    assert w.transactions - before <= 40


def test_a_bad_command_costs_only_itself(lib):
    _, w, _ = lib
    w.put(c.RecordResult(fs("/d/ok1.wav"), "b1", result("p1")))
    w.put(c.RecordResult(fs("/d/bad.wav"), "b2", {"pcm_hash": "x"}))  # missing fields
    w.put(c.RecordResult(fs("/d/ok2.wav"), "b3", result("p3")))
    w.flush(10)
    assert sorted(loc.path for loc in Location.select()) == ["/d/ok1.wav", "/d/ok2.wav"]


def test_external_reader_holding_a_read_transaction_loses_no_write(lib, tmp_path):
    """Acceptance 3: another process holds BEGIN; SELECT for 5 s while we write."""
    db, w, _ = lib
    w.put(c.RecordResult(fs("/d/seed.wav"), "b", result("p")))
    w.flush(10)
    reader = subprocess.Popen([sys.executable, "-c", (
        "import sqlite3, sys, time\n"
        f"c = sqlite3.connect({str(tmp_path / 'lib.db')!r}, isolation_level=None)\n"
        "c.execute('BEGIN'); n = c.execute('SELECT count(*) FROM location').fetchone()[0]\n"
        "print('holding', n, flush=True); time.sleep(5)\n"
        "m = c.execute('SELECT count(*) FROM location').fetchone()[0]; c.execute('COMMIT')\n"
        "print('snapshot', m, flush=True)\n")], stdout=subprocess.PIPE, text=True)
    assert reader.stdout.readline().startswith("holding 1")
    started = time.monotonic()
    for i in range(3000):
        w.put(c.RecordResult(fs(f"/d/{i}.wav"), f"b{i}", result(f"p{i}")))
    w.flush(30)
    wrote_in = time.monotonic() - started
    assert reader.stdout.readline().strip() == "snapshot 1"  # the reader's snapshot was stable
    assert reader.wait(10) == 0
    assert wrote_in < 5, "the writer waited for the reader"
    assert w.error is None and Location.select().count() == 3001


def test_import_runs_are_recorded(lib):
    _, w, _ = lib
    reply = c.Reply()
    w.put(c.StartRun("import", reply))
    run_id = reply.wait(10)
    w.put(c.FinishRun(run_id, {"seen": 5, "recorded": 4, "failed": 1}))
    w.flush(10)
    run = ImportRun.get_by_id(run_id)
    assert (run.kind, run.seen, run.recorded, run.failed) == ("import", 5, 4, 1) and run.finished_at
    assert queries.totals()["runs"] == 1


def test_a_version_1_library_is_migrated_in_place(tmp_path):
    """Build a library as the spine (schema v1) left it, with data, and open it with this sp404d."""
    import sqlite3

    from sp404d.library.models import ANALYSIS_FIELDS, database

    path = tmp_path / "old.db"
    db = open_library(path)
    db.close()
    keep = ", ".join(c for c in ("id", "pcm_hash", "samplerate", "channels", "subtype", "bit_depth", "frames",
                                 "duration", "analysis_version", "created_at"))
    conn = sqlite3.connect(path)
    conn.executescript(f"""
        PRAGMA foreign_keys = OFF;
        CREATE TABLE sample_v1 AS SELECT {keep} FROM sample WHERE 0;
        DROP TABLE sample;
        ALTER TABLE sample_v1 RENAME TO sample;
        CREATE UNIQUE INDEX sample_pcm_hash ON sample (pcm_hash);
        INSERT INTO sample ({keep}) VALUES (1, 'h1', 44100, 1, 'PCM_16', 16, 10, 0.1, 1, 0);
        ALTER TABLE failure DROP COLUMN analysis_version;
        INSERT INTO failure (path, size, mtime_ns, category, message, attempts, first_at, last_at)
            VALUES ('/old/bad.wav', 10, 1, 'unsupported', 'old', 1, 0, 0);
        UPDATE setting SET value = '1' WHERE key = 'schema_version';
    """)
    conn.close()
    db = open_library(path)
    try:
        assert schema_version(db) == SCHEMA_VERSION
        columns = {c.name for c in db.get_columns("sample")}
        assert set(ANALYSIS_FIELDS) <= columns
        old = Sample.get(Sample.pcm_hash == "h1")
        assert old.analysis_version == 1 and old.kind is None  # kept, waiting for re-analysis
        assert Failure.get().analysis_version is None  # failed by an analyser of unknown age: retried
        assert queries.outdated_failures(2) == ["/old/bad.wav"]
    finally:
        db.close()
        database.initialize(None)


def test_a_newer_analysis_updates_the_sample(lib):
    _, w, _ = lib
    w.put(c.RecordResult(fs("/d/a.wav"), "b1", result("p1", analysis_version=1)))
    w.put(c.RecordResult(fs("/d/a.wav", 100, 2), "b1", result("p1", analysis_version=2, kind="loop", bpm=90.0,
                                                              mfcc_mean=[1.0] * 13)))
    w.flush(10)
    s = Sample.get()
    assert (s.analysis_version, s.kind, s.bpm, s.mfcc_mean) == (2, "loop", 90.0, [1.0] * 13)


def test_a_re_analysis_keeps_what_each_location_duplicates(lib):
    """Described again by a newer analyser, the first file of a sound stays "first" and its other
    file "exact-pcm": a fresh decision would see each as the other's duplicate."""
    _, w, effects = lib
    w.put(c.RecordResult(fs("/d/a.wav"), "b1", result("p1")))
    w.put(c.RecordResult(fs("/d/a.flac"), "b2", result("p1", container="flac")))
    w.put(c.RecordResult(fs("/d/b.wav"), "b3", result("p2")))
    w.flush(10)
    before = {loc.path: loc.match for loc in Location.select()}
    assert before == {"/d/a.wav": "first", "/d/a.flac": "exact-pcm", "/d/b.wav": "first"}
    for path, byte_hash, container in (("/d/a.wav", "b1", "wav"), ("/d/a.flac", "b2", "flac"), ("/d/b.wav", "b3", "wav")):
        pcm = "p2" if path == "/d/b.wav" else "p1"
        w.put(c.RecordResult(fs(path), byte_hash, result(pcm, analysis_version=2, container=container)))
    w.flush(10)
    assert {loc.path: loc.match for loc in Location.select()} == before
    assert [s.analysis_version for s in Sample.select()] == [2, 2]
    assert [e[2] for e in effects if e[0] == "recorded"][3:] == ["first", "exact-pcm", "first"]


def test_drained_intake_commits_at_once_instead_of_waiting_out_the_batch_window(tmp_path):
    """The last results of an import are committed when intake says nothing is in flight, not
    when the batch window closes (here 60 s, far beyond the wait below)."""
    db = open_library(tmp_path / "lib.db")
    committed = []
    w = Writer(db, on_commit=committed.extend, batch_ms=60_000)
    w.start()
    try:
        w.put(c.RecordResult(fs("/d/last.wav"), "b-last", result("pcm-last")))
        w.put(c.Drained())
        deadline = time.monotonic() + 20
        while not committed and time.monotonic() < deadline:
            time.sleep(0.05)
        assert [e[1] for e in committed if e[0] == "recorded"] == ["/d/last.wav"]
        assert w.depth() == 0
    finally:
        w.stop(timeout=10)
        db.close()


def test_a_bpm_search_finds_a_loop_by_its_alternative_tempo_too(lib):
    """A half-time loop stored at 174 BPM with bpm_alt 87 is found by bpm:85..90 and by bpm:170..180."""
    from sp404d.kits import query as q
    from sp404d.kits import search

    _, w, _ = lib
    w.put(c.RecordResult(fs("/d/dnb.wav"), "b1", result("pcm1", kind="loop", bpm=174.0, bpm_alt=87.0, category="drum-loop")))
    w.put(c.RecordResult(fs("/d/hiphop.wav"), "b2", result("pcm2", kind="loop", bpm=90.0, category="drum-loop")))
    w.flush(10)
    found = lambda text: sorted(r["path"] for r in search.sounds(q.parse(text)))  # noqa: E731
    assert found("bpm:85..88") == ["/d/dnb.wav"]
    assert found("bpm:170..180") == ["/d/dnb.wav"]
    assert found("bpm:85..95") == ["/d/dnb.wav", "/d/hiphop.wav"]
    assert found("-bpm:85..88") == ["/d/hiphop.wav"]
