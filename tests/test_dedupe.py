"""Dedupe in the library: copies of one sound across containers, codecs, rates, gains and padding
end as one group whose canonical member is the best source; separately recorded hits (velocity
layers) and other drums stay apart; the groups do not depend on the order files arrive in; a
library whose groups an older release made is mended. Real worker processes, a real SQLite file,
the real CLI."""

from __future__ import annotations

import json
import random
import shutil
import sqlite3
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from sp404d.analysis import same
from sp404d.library import dedupe
from sp404d.library.schema import SCHEMA_VERSION, open_library
from tests.conftest import DaemonEnv
from tests.test_fingerprint import drum_hit
from tests.test_same import closed_hat, cymbal, synth_cycle

SR = 44100


def write(path: Path, y: np.ndarray, rate: int = SR, subtype: str = "PCM_16", fmt: str | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), y.astype(np.float32), rate, subtype=subtype, format=fmt)
    return path


def quantised(y: np.ndarray) -> np.ndarray:
    """The int16 waveform as float, so WAV, FLAC and AIFF hold exactly the same PCM."""
    return np.round(y * 32767).astype(np.int16).astype(np.float32) / 32768


def snare_family(root: Path) -> dict[str, Path]:
    y = quantised(drum_hit(1))
    files = {
        "wav": write(root / "A" / "snare.wav", y),
        "flac": write(root / "B" / "snare.flac", y),
        "aiff": write(root / "C" / "snare.aiff", y, fmt="AIFF"),
        "mp3": write(root / "D" / "snare.mp3", y, subtype="MPEG_LAYER_III", fmt="MP3"),
        "quiet": write(root / "E" / "snare -6dB.wav", y * 0.5),
        "hires": write(root / "F" / "snare 48k 24bit.wav", soxr.resample(y, SR, 48000), 48000, "PCM_24"),
        "padded": write(root / "G" / "snare padded.wav", np.concatenate([np.zeros(int(0.08 * SR)), y])),
    }
    files["copy"] = root / "H" / "snare copy.wav"
    files["copy"].parent.mkdir()
    shutil.copyfile(files["wav"], files["copy"])
    return files


def test_one_sound_in_many_files_is_one_group_and_others_stay_apart(daemon_env, tmp_path):
    env = daemon_env
    root = tmp_path / "Packs"
    family = snare_family(root)
    layers = {name: write(root / "Layers" / f"Snare-{name}.wav", quantised(drum_hit(10 + i, velocity)))
              for i, (name, velocity) in enumerate((("Soft", 0.4), ("Med", 0.7), ("Hard", 1.0)))}
    other = write(root / "Other" / "snare2.wav", quantised(drum_hit(2)))

    r = env.cli("import", str(root), "--json")
    assert r.returncode == 0, r.stderr
    job = json.loads(r.stdout)
    assert job["recorded"] == 12 and job["failed"] == 0
    assert job["duplicates"] == 3          # FLAC and AIFF (same PCM) and the byte copy
    assert job["near_duplicates"] == 4     # MP3, -6 dB, 48 kHz/24-bit, padded

    groups = [json.loads(line) for line in env.cli("dupes", "--json").stdout.splitlines()]
    assert len(groups) == 1
    g = groups[0]
    assert g["canonical"]["path"] == str(family["hires"])  # lossless, highest rate and depth
    how = {m["path"]: m for m in g["members"]}
    assert set(how) == {str(p) for k, p in family.items() if k != "hires"}
    assert {how[str(family[k])]["match"] for k in ("wav", "flac", "aiff", "mp3", "quiet", "padded", "copy")} == {"near"}
    for m in g["members"]:  # the evidence that each is the same recording as the canonical file
        assert m["correlation"] >= same.SAME_WAVEFORM or m["path"] == str(family["mp3"])
        assert m["correlation"] > 0.8 and 0 <= m["distance"] <= same.NEAR_IDENTICAL_BER
    assert g["freeable_bytes"] == sum(p.stat().st_size for k, p in family.items() if k != "hires")

    rows = {json.loads(line)["path"]: json.loads(line) for line in env.cli("export").stdout.splitlines()}
    family_groups = {rows[str(p)]["group_id"] for p in family.values()}
    assert len(family_groups) == 1
    apart = [rows[str(p)]["group_id"] for p in [*layers.values(), other]]
    assert len(set(apart)) == 4 and not family_groups & set(apart)
    assert [rows[str(p)]["canonical"] for p in layers.values()] == [True, True, True]
    assert [k for k, p in family.items() if rows[str(p)]["canonical"]] == ["hires"]
    text = env.cli("dupes").stdout
    assert f"\ngroup {g['group']}: {family['hires']}" in text and "1 sound has duplicates: 7 extra files" in text
    assert "correlation" in text and "fingerprint" in text  # what the figures after "near" mean
    mp3_line = next(line for line in text.splitlines() if line.endswith(f"{family['mp3']}  [mp3, 44100 Hz, lossy]"))
    assert mp3_line.lstrip().startswith(f"near wave {how[str(family['mp3'])]['correlation']:.2f}  "
                                        f"fp {how[str(family['mp3'])]['distance']:.2f}")


def test_copies_analysed_at_the_same_moment_end_in_one_group(daemon_env, tmp_path):
    """The WAV, FLAC and MP3 of one sound reach the two workers together; the writer decides
    serially, so they end as one sample (WAV + FLAC) in one group with the MP3."""
    env = daemon_env
    y = quantised(drum_hit(5))
    files = [write(tmp_path / "In" / "hit.wav", y), write(tmp_path / "In" / "hit.flac", y),
             write(tmp_path / "In" / "hit.mp3", y, subtype="MPEG_LAYER_III", fmt="MP3")]
    env.start()
    env.request("import", paths=[str(tmp_path / "In")])
    status = env.wait_idle(3)
    assert status["totals"]["groups"] == 1 and status["totals"]["samples"] == 2
    # whichever arrives first founds the group: one exact (WAV/FLAC) and one near (the MP3 or the PCM pair)
    assert (status["totals"]["duplicates"], status["totals"]["near_duplicates"]) == (1, 1)
    assert env.rows("SELECT COUNT(DISTINCT group_id), SUM(canonical) FROM sample") == [(1, 1)]
    assert "(1 exact and 1 near duplicates" in env.cli("status").stdout
    canonical = env.rows("SELECT l.path FROM location l JOIN sample s ON s.id = l.sample_id WHERE s.canonical")
    assert sorted(p for (p,) in canonical) == sorted(str(f) for f in files[:2])  # lossless beats the MP3


def test_an_older_library_is_grouped_when_re_analysed(daemon_env, tmp_path):
    """Samples recorded before fingerprints existed (analysis version 2) are each their own group;
    `import --reanalyse` fingerprints them and the writer groups the near duplicates."""
    env = daemon_env
    y = quantised(drum_hit(7))
    write(tmp_path / "Old" / "a.wav", y)
    write(tmp_path / "Old" / "a quieter.wav", y * 0.3)
    write(tmp_path / "Old" / "different.wav", quantised(drum_hit(8)))
    assert env.cli("import", str(tmp_path / "Old")).returncode == 0
    assert env.rows("SELECT COUNT(DISTINCT group_id) FROM sample") == [(2,)]
    with __import__("sqlite3").connect(env.library) as db:  # as schema v3's migration leaves a v2 library
        db.execute("UPDATE sample SET analysis_version = 2, fingerprint = NULL, fp_key = NULL, signature = NULL, "
                   "group_id = id, group_distance = NULL, group_correlation = NULL, canonical = 1")
        db.execute("UPDATE location SET match = 'first'")
    assert env.rows("SELECT COUNT(DISTINCT group_id) FROM sample") == [(3,)]
    r = env.cli("import", "--reanalyse", "--json")
    assert r.returncode == 0, r.stderr
    assert env.rows("SELECT COUNT(DISTINCT group_id), SUM(canonical) FROM sample") == [(2, 2)]


def test_canonical_member_is_the_best_source():
    def key(lossless, rate, depth, duration, peak=-1.0, pcm="a"):
        return same.order_key(lossless, rate, depth, duration, peak, pcm)

    wav_44 = key(True, 44100, 16, 0.5)
    mp3_48 = key(False, 48000, None, 0.5)
    flac_96 = key(True, 96000, 24, 0.5)
    wav_44_24 = key(True, 44100, 24, 0.5)
    truncated = key(True, 96000, 24, 0.3)
    assert dedupe.canonical([(1, mp3_48), (2, wav_44)]) == 2          # lossless beats a higher-rate MP3
    assert dedupe.canonical([(1, wav_44), (2, flac_96), (3, truncated)]) == 2
    assert dedupe.canonical([(1, wav_44), (2, wav_44_24)]) == 2       # then bit depth
    assert dedupe.canonical([(1, key(True, 44100, 16, 0.5, -7.0)), (2, wav_44)]) == 2  # then the louder
    # a tie is broken by the waveform hash, never by which arrived first
    assert dedupe.canonical([(5, key(True, 44100, 16, 0.5, pcm="b")), (3, key(True, 44100, 16, 0.5, pcm="c"))]) == 3
    assert dedupe.canonical([(3, key(True, 44100, 16, 0.5, pcm="c")), (5, key(True, 44100, 16, 0.5, pcm="b"))]) == 3
    assert dedupe.decide(False, False, near=True).match == "near"
    assert dedupe.decide(True, True, near=True).match == "exact-bytes"


def test_index_returns_the_nearest_keys_among_agreeing_durations(monkeypatch):
    """The sorted block plus unsorted tail gives exactly what a brute-force scan gives."""
    from sp404d.analysis.fingerprint import COARSE_DIMS, DURATION_RATIO, DURATION_SLACK
    from sp404d.library.near_index import MAX_KEY_DISTANCE, NearIndex

    monkeypatch.setattr(NearIndex, "TAIL", 64)  # several merges, and a tail left over
    rng = np.random.default_rng(0)
    n = 1000
    durations = np.exp(rng.normal(np.log(0.5), 0.8, n)).astype(np.float32)
    keys = rng.normal(0, 0.2, (n, COARSE_DIMS)).astype(np.float32)  # some pairs nearer than the cut-off, some not
    index = NearIndex()
    for i in range(n):
        index.add(i + 1, float(durations[i]), keys[i])
    index.add(1, float(durations[0]), keys[0])  # indexed again: its entry is replaced, not doubled
    assert len(index) == n and 5 in index and n + 1 not in index
    for j in range(0, n, 37):
        d = float(durations[j])
        agree = ((np.abs(np.log(durations / d)) < np.log(DURATION_RATIO)) | (np.abs(durations - d) < DURATION_SLACK))
        rows = np.flatnonzero(agree)
        d2 = ((keys[rows] - keys[j]) ** 2).sum(axis=1)
        rows, d2 = rows[d2 <= MAX_KEY_DISTANCE], d2[d2 <= MAX_KEY_DISTANCE]
        nearest = rows[np.argsort(d2)[:16]] + 1
        got = index.candidates(d, keys[j], limit=16)
        assert got[0] == j + 1 and set(got) == set(nearest.tolist())
    assert NearIndex().candidates(0.5, keys[0]) == []
    # a sample described again replaces its entry (in the block or in the tail); a removed one is gone
    far = np.full(COARSE_DIMS, 5.0, np.float32)
    index.add(7, 0.5, far)
    index.add(n - 1, 0.5, far)
    assert len(index) == n and set(index.candidates(0.5, far, limit=5)) == {7, n - 1}
    assert 7 not in index.candidates(float(durations[6]), keys[6], limit=1000)
    index.discard(7)
    assert 7 not in index and index.candidates(0.5, far, limit=5) == [n - 1]


def test_a_re_analysis_keeps_each_files_place_in_its_group(daemon_env, tmp_path):
    """A newer analyser describes every sound again; each file stays what it was found to be (the
    first of its sound, an exact copy, a near duplicate) and in the same group."""
    env = daemon_env
    snare_family(tmp_path / "Packs")
    assert env.cli("import", str(tmp_path / "Packs")).returncode == 0
    query = "SELECT l.path, l.match, s.group_id FROM location l JOIN sample s ON s.id = l.sample_id ORDER BY l.path"
    before = env.rows(query)
    assert {match for _, match, _ in before} == {"first", "exact-pcm", "exact-bytes", "near"}
    with __import__("sqlite3").connect(env.library) as db:
        db.execute("UPDATE sample SET analysis_version = analysis_version - 1")
    job = json.loads(env.cli("import", "--reanalyse", "--json").stdout)
    assert job["analysed"] == env.rows("SELECT COUNT(*) FROM sample")[0][0] and job["failed"] == 0
    assert env.rows(query) == before


def mixed_bag(root: Path) -> list[Path]:
    """Copies of one sound, its separately recorded layers, a short hat and a short synth waveform,
    two strikes of one cymbal and a quieter copy of one of them."""
    files = list(snare_family(root / "family").values())
    files += [write(root / "layers" / f"Snare-{v}.wav", quantised(drum_hit(30 + i, v))) for i, v in enumerate((0.5, 1.0))]
    files += [write(root / "short" / "hihat.wav", quantised(closed_hat(4))),
              write(root / "short" / "bunglist.wav", quantised(synth_cycle()))]
    files += [write(root / "cymbal" / f"ride-{i}.wav", quantised(cymbal(i, seconds=1.5))) for i in (1, 2)]
    files.append(write(root / "cymbal" / "ride-1 quiet.wav", quantised(cymbal(1, seconds=1.5)) * 0.5))
    return files


def groups_of(env: DaemonEnv) -> set[tuple[str, frozenset]]:
    """(canonical file, the files of the group) for every group of more than one file."""
    rows = env.rows("SELECT s.group_id, s.canonical, l.path FROM location l JOIN sample s ON s.id = l.sample_id "
                    "ORDER BY l.path")
    files: dict[int, set] = {}
    head: dict[int, str] = {}
    for group, canonical, path in rows:
        files.setdefault(group, set()).add(path)
        if canonical:
            head.setdefault(group, path)
    return {(head[g], frozenset(paths)) for g, paths in files.items() if len(paths) > 1}


def test_the_groups_do_not_depend_on_the_order_files_arrive_in(tmp_path):
    files = mixed_bag(tmp_path / "bag")
    found = []
    for seed in range(3):
        root = Path(tempfile.mkdtemp(prefix="sp4-"))  # short: the socket path has a length limit
        try:
            env = DaemonEnv(root)
            order = [str(p) for p in files]
            random.Random(seed).shuffle(order)
            for part in (order[:5], order[5:11], order[11:]):  # several imports, each two workers at once
                r = env.cli("import", *part, "--json")
                assert r.returncode == 0, r.stderr
            found.append(groups_of(env))
        finally:
            shutil.rmtree(root, ignore_errors=True)
    assert found[0] == found[1] == found[2]
    by_head = {Path(head).name: {Path(p).name for p in paths} for head, paths in found[0]}
    assert by_head == {"snare 48k 24bit.wav": {p.name for p in files[:8]}, "ride-1.wav": {"ride-1.wav", "ride-1 quiet.wav"}}


def test_an_old_library_with_a_false_group_is_split_on_upgrade(daemon_env, tmp_path):
    """A library as the previous release leaves it (schema 5, analysis version 6, groups made on
    the fingerprint alone, one of them hiding another sound): the upgrade undoes the groups, the
    re-analysis makes them again, and the other sound is a sound of its own once more."""
    env = daemon_env
    family = snare_family(tmp_path / "Packs")
    other = write(tmp_path / "Packs" / "Other" / "hihat.wav", quantised(closed_hat(9)))
    assert env.cli("import", str(tmp_path / "Packs")).returncode == 0
    canonical = env.rows("SELECT s.id FROM sample s JOIN location l ON l.sample_id = s.id WHERE l.path = ?",
                         (str(family["hires"]),))[0][0]
    with sqlite3.connect(env.library) as db:  # back to the previous release's library
        db.execute("ALTER TABLE sample DROP COLUMN embedding")  # schema 8
        db.execute("ALTER TABLE sample DROP COLUMN signature")
        db.execute("ALTER TABLE sample DROP COLUMN group_correlation")
        for (index,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'index' AND sql LIKE '%bpm_alt%'").fetchall():
            db.execute(f'DROP INDEX "{index}"')
        db.execute("ALTER TABLE sample DROP COLUMN bpm_alt")
        db.execute("UPDATE setting SET value = '5' WHERE key = 'schema_version'")
        db.execute("UPDATE sample SET analysis_version = 6")
        db.execute("UPDATE sample SET group_id = ?, canonical = 0, group_distance = 0.1875 WHERE id = "
                   "(SELECT sample_id FROM location WHERE path = ?)", (canonical, str(other)))
        db.execute("UPDATE location SET match = 'near' WHERE path = ?", (str(other),))
    members = "SELECT COUNT(*) FROM sample WHERE group_id = ? AND id != ?"
    assert env.rows(members, (canonical, canonical)) == [(5,)]  # four copies and the hi-hat, as the old library holds them
    r = env.cli("dupes")  # a reader does not upgrade the library: it says what will
    assert r.returncode == 1 and "schema version 5" in r.stderr and "import" in r.stderr and "Traceback" not in r.stderr
    open_library(env.library).close()  # the writer's opening upgrades it: no old group is trusted
    assert env.rows(members, (canonical, canonical)) == [(0,)]
    assert env.rows("SELECT COUNT(*) FROM sample WHERE analysis_version < 8") == [(6,)]

    r = env.cli("import", "--reanalyse", "--json")
    assert r.returncode == 0, r.stderr
    groups = [json.loads(line) for line in env.cli("dupes", "--json").stdout.splitlines()]
    assert len(groups) == 1 and groups[0]["canonical"]["path"] == str(family["hires"])
    assert {m["path"] for m in groups[0]["members"]} == {str(p) for k, p in family.items() if k != "hires"}
    assert env.rows("SELECT s.canonical, l.match FROM sample s JOIN location l ON l.sample_id = s.id WHERE l.path = ?",
                    (str(other),)) == [(1, "first")]
    assert env.rows("SELECT value FROM setting WHERE key = 'schema_version'") == [(str(SCHEMA_VERSION),)]
