"""`sp404d import` with and without a daemon, the single-writer lock, and `sp404d export`."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys

from fixtures.audio import hit, make_pack, write
from tests.conftest import wait_until


def test_import_without_daemon_records_everything_and_a_rerun_skips_unchanged(daemon_env, tmp_path):
    env = daemon_env
    pack = make_pack(tmp_path / "Pack", 120, seed=3)
    r = env.cli("import", str(tmp_path / "Pack"), "--json")
    assert r.returncode == 0, r.stderr
    job = json.loads(r.stdout)
    assert job["done"] and job["seen"] == 120 and job["recorded"] == 120 and job["failed"] == 0
    assert job["duplicates"] == 120 - pack.sounds
    assert env.rows("SELECT count(*) FROM location")[0][0] == 120
    assert env.rows("SELECT kind, seen, recorded FROM import_run") == [("import", 120, 120)]
    again = json.loads(env.cli("import", str(tmp_path / "Pack"), "--json").stdout)
    assert again["unchanged"] == 120 and again["analysed"] == 0
    plain = env.cli("import", str(tmp_path / "Pack"))
    assert plain.returncode == 0 and plain.stdout.startswith(
        "seen 120, recorded 0 (duplicates 0 exact + 0 near), unchanged 120, failed 0 in ")
    assert "files/s" not in plain.stdout  # nothing was worked on: no rate to claim


def test_import_hands_over_to_a_running_daemon(daemon_env, tmp_path):
    env = daemon_env
    make_pack(tmp_path / "Elsewhere", 60, seed=4)
    env.start()
    r = env.cli("import", str(tmp_path / "Elsewhere"), "--json")
    assert r.returncode == 0, r.stderr
    job = json.loads(r.stdout)
    assert job["kind"] == "import" and job["recorded"] == 60 and job["done"]
    assert env.status()["totals"]["locations"] == 60  # written by the daemon, the only writer


def test_a_daemon_started_during_an_import_waits_for_the_lock(daemon_env, tmp_path):
    env = daemon_env
    make_pack(tmp_path / "Big", 600, seed=5)
    importer = subprocess.Popen([sys.executable, "-m", "sp404d", "import", str(tmp_path / "Big"), "--json"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env.env)
    wait_until(lambda: env.library.with_name("library.db.lock").exists() and
               b"import" in env.library.with_name("library.db.lock").read_bytes(), 30, what="import to hold the lock")
    env.start(wait=False)
    wait_until(lambda: "waiting for the library lock" in env.log.read_text(), 30, what="daemon to say it waits")
    assert "sp404d import (pid" in env.log.read_text()
    out, err = importer.communicate(timeout=120)
    assert importer.returncode == 0, err
    assert json.loads(out)["recorded"] == 600
    wait_until(env.answers, 60, what="daemon to start after the import")


def test_import_of_a_missing_path_is_one_clear_line(daemon_env):
    r = daemon_env.cli("import", "/no/such/folder")
    assert r.returncode == 1 and r.stderr == "sp404d: no such file or folder: /no/such/folder\n"


def test_bad_config_is_one_clear_line(daemon_env):
    daemon_env.config.write_text("[watch]\nsettle_seconds = 'soon'\n")
    r = daemon_env.cli("status")
    assert r.returncode == 78 and r.stderr.count("\n") == 1 and "watch.settle_seconds" in r.stderr
    assert "Traceback" not in r.stderr


def test_export_has_one_line_per_location_with_every_sample_field(daemon_env, tmp_path):
    env = daemon_env
    a = write(tmp_path / "in" / "a.wav", hit(1))
    write(tmp_path / "in" / "a.flac", hit(1))
    write(tmp_path / "in" / "b.wav", hit(2))
    assert env.cli("import", str(tmp_path / "in")).returncode == 0
    lines = [json.loads(x) for x in env.cli("export").stdout.splitlines()]
    assert len(lines) == 3
    by_path = {x["path"]: x for x in lines}
    assert by_path[str(a)]["sample_id"] == by_path[str(tmp_path / "in" / "a.flac")]["sample_id"]
    from sp404d.library.models import ANALYSIS_FIELDS

    for field in ("sample_id", "path", "size", "mtime_ns", "byte_hash", "pcm_hash", "samplerate", "channels",
                  "bit_depth", "frames", "duration", "analysis_version", "match", "container", *ANALYSIS_FIELDS):
        assert field in lines[0], field
    assert {"kind_source", "bpm_source", "key_source", "category_source", "category_confidence"} <= set(lines[0])
    assert by_path[str(a)]["kind"] == "one-shot" and by_path[str(a)]["bpm"] is None
    assert by_path[str(a)]["category"] and len(by_path[str(a)]["mfcc_mean"]) == 13
    rows = list(csv.DictReader(io.StringIO(env.cli("export", "--format", "csv").stdout)))
    assert len(rows) == 3 and {r["path"] for r in rows} == set(by_path)
    out = tmp_path / "out.jsonl"
    assert env.cli("export", "-o", str(out)).returncode == 0 and len(out.read_text().splitlines()) == 3


def test_reanalyse_updates_samples_of_an_older_analyser_without_decoding_copies(daemon_env, tmp_path):
    env = daemon_env
    make_pack(tmp_path / "Pack", 40, seed=8)
    assert env.cli("import", str(tmp_path / "Pack")).returncode == 0
    import sqlite3

    with sqlite3.connect(env.library) as conn:  # as if recorded by the previous analyser
        conn.execute("UPDATE sample SET analysis_version = 1, kind = NULL, category = NULL")
    samples = env.rows("SELECT count(*) FROM sample")[0][0]
    job = json.loads(env.cli("import", "--reanalyse", "--json").stdout)
    assert job["kind"] == "reanalyse" and job["analysed"] == samples and job["failed"] == 0  # one decode per sample
    assert env.rows("SELECT count(*) FROM sample WHERE analysis_version = 1 OR kind IS NULL")[0][0] == 0
    again = json.loads(env.cli("import", "--reanalyse", "--json").stdout)
    assert again["seen"] == 0  # nothing left to do


def test_status_says_how_many_sounds_an_older_analyser_described_until_they_are_done(daemon_env, tmp_path):
    env = daemon_env
    make_pack(tmp_path / "Pack", 8, seed=9)  # 6 sounds (the first also as FLAC and AIFF)
    assert env.cli("import", str(tmp_path / "Pack")).returncode == 0
    import sqlite3

    with sqlite3.connect(env.library) as conn:
        conn.execute("UPDATE sample SET analysis_version = 1 WHERE id IN (SELECT id FROM sample ORDER BY id LIMIT 4)")
    assert env.rows("SELECT COUNT(*) FROM sample WHERE analysis_version = 1") == [(4,)]
    env.start()
    assert env.status()["totals"]["outdated"] == 4
    assert "older:    4 sounds described by an older analyser" in env.cli("status").stdout
    assert json.loads(env.cli("import", "--reanalyse", "--json").stdout)["analysed"] == 4  # the daemon does it
    assert env.status()["totals"]["outdated"] == 0 and "older:" not in env.cli("status").stdout


def test_reanalyse_retries_files_an_older_analyser_could_not_decode(daemon_env, tmp_path):
    """After an upgrade, files an older analyser failed as unsupported or corrupt are tried once
    more (it may now read them); what the current analyser failed is not retried again."""
    import os
    import sqlite3

    env = daemon_env
    pack = tmp_path / "Pack"
    good = write(pack / "now_readable.wav", hit(77, 0.2))
    (pack / "junk.wav").write_bytes(os.urandom(3000))
    assert env.cli("import", str(pack)).returncode == 0
    assert env.rows("SELECT category, analysis_version IS NOT NULL FROM failure") == [("unsupported", 1)]
    st = good.stat()
    with sqlite3.connect(env.library) as conn:  # as if an older analyser had failed the good file
        conn.execute("DELETE FROM location WHERE path = ?", (str(good),))
        conn.execute("INSERT INTO failure (path, size, mtime_ns, category, message, attempts, first_at, last_at, "
                     "analysis_version) VALUES (?, ?, ?, 'unsupported', 'old decoder', 1, 0, 0, NULL)",
                     (str(good), st.st_size, st.st_mtime_ns))
    job = json.loads(env.cli("import", "--reanalyse", "--json").stdout)
    assert (job["seen"], job["recorded"], job["failed"]) == (1, 1, 0)
    assert env.rows("SELECT path FROM failure") == [(str(pack / "junk.wav"),)]
    assert env.rows("SELECT count(*) FROM location WHERE path = ?", (str(good),))[0][0] == 1
    assert json.loads(env.cli("import", "--reanalyse", "--json").stdout)["seen"] == 0


def test_failures_of_files_that_are_gone_are_forgotten(daemon_env, tmp_path):
    """A failure whose file was deleted is not reported or retried forever: a scan that no longer
    finds the file, and a retry that finds it gone, both forget it."""
    import os
    import sqlite3

    env = daemon_env
    pack = tmp_path / "Pack"
    write(pack / "fine.wav", hit(78, 0.2))
    junk = pack / "junk.wav"
    junk.write_bytes(os.urandom(3000))
    assert env.cli("import", str(pack)).returncode == 0
    assert env.rows("SELECT path FROM failure") == [(str(junk),)]
    junk.unlink()
    assert env.cli("import", str(pack)).returncode == 0          # the walk no longer finds it
    assert env.rows("SELECT count(*) FROM failure")[0][0] == 0
    with sqlite3.connect(env.library) as conn:                     # failed by an older analyser, since deleted
        conn.execute("INSERT INTO failure (path, size, mtime_ns, category, message, attempts, first_at, last_at) "
                     "VALUES (?, 10, 1, 'corrupt', 'old', 1, 0, 0)", (str(pack / "gone.wav"),))
    job = json.loads(env.cli("import", "--reanalyse", "--json").stdout)
    assert job["seen"] == 1 and job["failed"] == 0
    assert env.rows("SELECT count(*) FROM failure")[0][0] == 0
    assert json.loads(env.cli("import", "--reanalyse", "--json").stdout)["seen"] == 0
