"""Kits on a real FAT32 card (mkfs.vfat image, mounted with fusefat under a mount root of the
test's own), written by the real daemon when the card is mounted, and by `sp404d sync`. Card.sync
driven directly, at the worst moments: test_card_sync.py."""

from __future__ import annotations

import json
import random
import subprocess
import sys
import time

import pytest

from fixtures import card as fat
from fixtures.audio import hit, write
from sp404d.card.sync import Card
from tests.card_helpers import NAMES, assert_card_consistent, card_config, drum_library, last_sync
from tests.conftest import wait_until

pytestmark = pytest.mark.skipif(fat.available() is not None, reason=str(fat.available()))


def test_mounting_a_card_writes_the_kits_and_ingests_exports_once(daemon_env, card, tmp_path):
    env = daemon_env
    drum_library(env.drop)
    card_config(env, card)
    # the card arrives with the device's exports and the user's own files already on it
    card.mount()
    card.layout()
    mine = card.path / "IMPORT" / "MY KIT" / "handmade.wav"
    mine.parent.mkdir()
    write(mine, hit(5, 0.2))
    readme = card.path / "IMPORT" / "README.TXT"
    readme.write_text("mine")
    exported = write(card.path / "EXPORT" / "SMPL0001.WAV", hit(77, 0.5))
    write(card.path / "EXPORT" / "PROJECT" / "PROJECT_01" / "PTN.WAV", hit(78, 0.5))
    before = {p: p.read_bytes() for p in (mine, readme)}
    card.unmount()
    env.start()
    env.wait_idle(len(NAMES))

    card.mount()
    sync = last_sync(env, card.path)
    assert sync["error"] is None and sync["written"] == 32 and sync["empty_pads"] == {}
    manifest = assert_card_consistent(card.path)
    drums = sorted(p.name for p in (card.path / "IMPORT" / "DRUMS").iterdir())
    assert [n[:3] for n in drums] == [f"{i:02d}_" for i in range(1, 17)]
    assert drums[0].startswith("01_kick") and drums[2].startswith("03_snare") and drums[15].startswith("16_vox")
    assert len(list((card.path / "IMPORT" / "NEW").iterdir())) == 16
    assert len(manifest["files"]) == 32
    assert {p: p.read_bytes() for p in before} == before  # the user's files, untouched

    # the device's export is ingested as a source named after the card; projects are not
    def ingested():
        rows = env.rows("SELECT path FROM location")
        return [p for (p,) in rows if p.startswith(str(card.path))] or None
    assert wait_until(ingested, 60, what="EXPORT to be ingested") == [str(exported)]
    found = env.cli("search", f"source:{card.path.name}", "--json")
    assert [json.loads(line)["path"] for line in found.stdout.splitlines()] == [str(exported)]

    # a second sync with nothing changed writes nothing
    r = env.cli("sync", "--json")
    again = json.loads(r.stdout)
    assert r.returncode == 0 and (again["written"], again["removed"], again["kept"]) == (0, 0, 32)

    # pinning the kick that is on no pad to pad 1 changes only the pads whose sound changed (pad 1,
    # and pad 2, whose "category:kick" now takes the kick pad 1 had)
    def pads():
        return {p["pad"]: (p.get("sample_id"), p["card_name"])
                for p in json.loads(env.cli("kit", "show", "DRUMS", "--json").stdout)["pads"]}
    old = pads()
    spare = next(k for k in ("kick_boom", "kick_punch", "kick_deep")
                 if old[1][1] != f"01_{k}.WAV" and old[2][1] != f"02_{k}.WAV")
    t = time.time()
    assert env.cli("kit", "pin", "DRUMS", "1", str(env.drop / "Drums" / f"{spare}.wav")).returncode == 0
    new = pads()
    moved = sorted(pad for pad in new if new[pad] != old[pad])
    assert moved == [1, 2] and new[1][1] == f"01_{spare}.WAV" and new[2][1] == "02" + old[1][1][2:]

    def synced_the_pin():  # the card is still mounted: the daemon syncs it again by itself
        s = last_sync(env, card.path)
        return s if s["finished_at"] > t and (s["written"] or s["moved"] or s["removed"]) else None
    changed = wait_until(synced_the_pin, 60, interval=0.2, what="the pin to reach the mounted card")
    # pad 1's new kick is written; pad 1's old kick is renamed to pad 2, not rendered again; pad 2's
    # old sound goes
    assert changed["plan"]["write"] == [f"IMPORT/DRUMS/{new[1][1]}"]
    assert changed["plan"]["move"] == [[f"IMPORT/DRUMS/{old[1][1]}", f"IMPORT/DRUMS/{new[2][1]}"]]
    assert changed["plan"]["remove"] == [f"IMPORT/DRUMS/{old[2][1]}"]
    assert (changed["written"], changed["moved"], changed["removed"], changed["kept"]) == (1, 1, 1, 30)
    assert_card_consistent(card.path)
    assert {p: p.read_bytes() for p in before} == before

    # eject and plug in again: nothing ingested twice, nothing rewritten
    card.unmount()
    wait_until(lambda: not [c for c in env.status()["cards"] if c["mounted"]], 30, what="the eject to be seen")
    t = time.time()
    card.mount()
    sync = last_sync(env, card.path, after=t)
    assert (sync["written"], sync["removed"], sync["kept"]) == (0, 0, 32)
    assert env.rows("SELECT COUNT(*) FROM location WHERE path LIKE '%SMPL0001%'") == [(1,)]
    status = env.cli("status").stdout
    assert f"card:     {card.path.name} (card) {card.path}: last sync" in status
    card.unmount()


def test_a_card_pulled_during_sync_never_holds_a_partial_file(daemon_env, card, tmp_path):
    """Ten pulls at random moments of a sync (the FUSE process killed), each followed by a check
    of the card and a remount whose sync completes the kits."""
    env = daemon_env
    drum_library(tmp_path / "Lib", seconds=1.5)  # bigger files: a sync long enough to interrupt
    assert env.cli("import", str(tmp_path / "Lib")).returncode == 0
    card.mount()
    card.layout()
    (card.path / "IMPORT" / "KEEP.TXT").write_text("the user's")

    def sync() -> subprocess.Popen:
        return subprocess.Popen([sys.executable, "-m", "sp404d", "sync", "--card", str(card.path), "--json"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env.env)

    t = time.monotonic()
    first = sync()
    out, err = first.communicate(timeout=120)
    full = time.monotonic() - t
    pads = 30  # a 1.5 s rim or closed hat is too long for its pad (kits/score.py's LENGTHS): DRUMS has 14
    assert first.returncode == 0 and json.loads(out)["written"] == pads, err
    rng = random.Random(404)
    interrupted = 0
    for _ in range(10):
        manifest = Card(card.path).manifest()
        for rel in manifest["files"]:  # the pads were deleted on the device: the sync rewrites them all
            (card.path / rel).unlink(missing_ok=True)
        proc = sync()
        time.sleep(rng.uniform(0.3, max(0.4, 0.9 * full)))  # 0.3 s: past the start of the process
        card.pull()
        out, err = proc.communicate(timeout=120)
        interrupted += proc.returncode != 0 or json.loads(out)["error"] is not None
        # the sync noticed the card was gone and wrote nothing into the bare mount point
        assert not card.path.exists() or not list(card.path.iterdir()), list(card.path.iterdir())
        card.check()
        card.mount()
        assert_card_consistent(card.path)
        assert (card.path / "IMPORT" / "KEEP.TXT").read_text() == "the user's"
        done = sync()
        out, err = done.communicate(timeout=120)
        report = json.loads(out)
        assert done.returncode == 0 and report["error"] is None, err
        manifest = assert_card_consistent(card.path)
        assert len(manifest["files"]) == pads and not any(e.get("pending") for e in manifest["files"].values())
    assert interrupted >= 5  # most pulls really cut a sync short


def test_a_mounted_card_follows_the_library_without_being_asked(daemon_env, card, tmp_path):
    env = daemon_env
    drum_library(env.drop)
    card_config(env, card)
    env.start()
    env.wait_idle(len(NAMES))
    card.mount()
    card.layout()
    assert last_sync(env, card.path)["written"] == 32
    time.sleep(1.1)  # a newer "added" than every sample so far
    write(env.drop / "zz_new_hit.wav", hit(4242, 0.3))
    new_kit = card.path / "IMPORT" / "NEW"

    def synced_the_new_sample():  # the report, not the file: the file is there before the sync ends
        s = last_sync(env, card.path)
        return s if any("zz_new_hit" in rel for rel in s.get("plan", {}).get("write", [])) else None
    sync = wait_until(synced_the_new_sample, 60, interval=0.2, what="the new sample to reach the mounted card")
    assert sync["error"] is None and sync["moved"] >= 15  # the NEW kit shifted by renames
    assert any("zz_new_hit" in p.name for p in new_kit.iterdir())
    assert sorted(p.name[:2] for p in new_kit.iterdir()) == [f"{i:02d}" for i in range(1, 17)]
    assert_card_consistent(card.path)
    # with nothing new, or a change that moves no pad (a file that fails), the card is left alone
    settled = last_sync(env, card.path)["finished_at"]
    time.sleep(2)
    assert last_sync(env, card.path)["finished_at"] == settled
    (env.drop / "broken.wav").write_text("not audio")
    wait_until(lambda: env.status()["totals"]["failed"] == 1, 30, what="the broken file to be recorded as failed")
    time.sleep(2)
    assert last_sync(env, card.path)["finished_at"] == settled


def test_a_full_card_stops_the_sync_with_a_clear_message_and_stays_consistent(daemon_env, tmp_path):
    env = daemon_env
    drum_library(tmp_path / "Lib", seconds=2.0)
    assert env.cli("import", str(tmp_path / "Lib")).returncode == 0
    # 2 s is long for most drums (kits/score.py's LENGTHS): as many files as the kits fill
    pads = sum(json.loads(line)["filled"] for line in env.cli("kits", "--json").stdout.splitlines())
    assert 16 < pads < 32
    small = fat.FatCard(tmp_path / "small", size_mb=40)
    try:
        small.mount()
        small.layout()
        filler = small.path / "BKUP" / "BIG.BIN"
        with open(filler, "wb") as f:  # the user's backup leaves room for a few pads only
            try:
                f.write(b"\0" * (35 << 20))
            except OSError:
                pass
        r = env.cli("sync", "--card", str(small.path))
        assert r.returncode == 1 and "full" in r.stdout, r.stdout + r.stderr
        assert "Traceback" not in r.stderr
        manifest = assert_card_consistent(small.path)
        written = [rel for rel, e in manifest["files"].items() if not e.get("pending")]
        assert 0 < len(written) < pads
        assert filler.stat().st_size > 0
        filler.unlink()  # room again: the next sync completes
        r = env.cli("sync", "--card", str(small.path), "--json")
        assert r.returncode == 0 and json.loads(r.stdout)["error"] is None
        assert len(assert_card_consistent(small.path)["files"]) == pads
    finally:
        small.pull()


def test_a_volume_named_in_ingest_labels_is_ingested_and_other_volumes_are_left_alone(daemon_env, tmp_path):
    env = daemon_env
    recorder = fat.FatCard(tmp_path / "rec", label="ZOOM", size_mb=40)
    other = fat.FatCard(tmp_path / "other", label="OTHER", size_mb=40)
    other.mount_root, other.path = recorder.mount_root, recorder.mount_root / "OTHER"  # side by side
    with open(env.config, "a") as f:
        f.write(f'[cards]\nmount_roots = ["{recorder.mount_root}"]\ningest_labels = ["ZOOM"]\npoll_seconds = 0.3\n')
    env.start()
    try:
        other.mount()
        stranger = write(other.path / "IMPORT" / "song.wav", hit(10, 0.8))
        recorder.mount()
        take = write(recorder.path / "FOLDER01" / "ZOOM0001.wav", hit(9, 0.8))
        (recorder.path / "IMPORT").mkdir()  # an IMPORT folder alone does not make a card
        recorder.unmount()
        wait_until(lambda: not [c for c in env.status()["cards"] if c["mounted"]], 30, what="the eject to be seen")
        recorder.mount()  # plugged in with the take already on it
        try:
            wait_until(lambda: env.rows(f"SELECT COUNT(*) FROM location WHERE path = '{take}'") == [(1,)], 60,
                       what="the recorder's take to be ingested")
        except AssertionError as e:
            log = [line for line in env.log.read_text().splitlines() if '"progress"' not in line]
            raise AssertionError(f"{e}; daemon log:\n" + "\n".join(log[-12:])) from None
        cards = env.status()["cards"]
        assert [(c["label"], c["role"]) for c in cards] == [("ZOOM", "ingest")]
        assert not (recorder.path / "SP404D").exists()  # nothing written to a volume that is not a card
        assert not (other.path / "SP404D").exists()
        assert env.rows(f"SELECT COUNT(*) FROM location WHERE path = '{stranger}'") == [(0,)]
    finally:
        recorder.pull()
        other.pull()
