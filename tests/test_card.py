"""Kits on a real FAT32 card (mkfs.vfat image, mounted with fusefat under a mount root of the
test's own), written by the real daemon when the card is mounted, and by `sp404d sync`."""

from __future__ import annotations

import json
import os
import random
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest
import soundfile as sf
import xxhash

from fixtures import card as fat
from sp404d.card import manifest as manifest_store
from sp404d.card.sync import Card
from fixtures.audio import hit, write
from tests.conftest import wait_until

pytestmark = pytest.mark.skipif(fat.available() is not None, reason=str(fat.available()))

NAMES = ["kick_01", "kick_02", "kick_03", "snare_01", "snare_02", "clap_1", "hh_closed", "open_hat", "rim_1",
         "tom_lo", "tom_hi", "conga_1", "shaker", "crash_1", "fx_riser", "fx_zap", "vox_hey"]


def drum_library(folder: Path, seconds: float = 0.3) -> dict[str, Path]:
    return {n: write(folder / "Drums" / f"{n}.wav", hit(1000 + i, seconds=seconds, channels=1 + i % 2))
            for i, n in enumerate(NAMES)}


def riff_chunks(path: Path) -> list[str]:
    data = path.read_bytes()
    assert data[:4] == b"RIFF" and data[8:12] == b"WAVE" and struct.unpack("<I", data[4:8])[0] == len(data) - 8
    chunks, at = [], 12
    while at < len(data):
        cid, size = data[at:at + 4].decode("ascii"), struct.unpack("<I", data[at + 4:at + 8])[0]
        chunks.append(cid)
        assert at + 8 + size <= len(data), f"{path}: chunk {cid} runs past the end"
        at += 8 + size + (size & 1)
    return chunks


def assert_card_consistent(card: Path) -> dict:
    """IMPORT/ holds only whole 48 kHz/16-bit PCM WAVs with valid names (and the user's files); the
    manifest matches every file sp404d wrote."""
    manifest = Card(card).manifest()  # the newest copy whose checksum holds
    for wav in (card / "IMPORT").rglob("*.WAV"):
        rel = str(wav.relative_to(card))
        assert riff_chunks(wav) == ["fmt ", "data"], rel
        info = sf.info(str(wav))
        assert (info.samplerate, info.subtype) == (48000, "PCM_16"), rel
        assert len(wav.name) <= 23 and wav.name.isascii() and wav.name[:2].isdigit() and wav.name[2] == "_", rel
        entry = manifest["files"].get(rel)
        if entry and not entry.get("pending"):
            assert entry["hash"] == xxhash.xxh3_128_hexdigest(wav.read_bytes()), rel
    assert not list((card / "IMPORT").rglob("*.tmp"))
    return manifest


def imported_kits(env, tmp_path: Path):
    """Import the drum library (no daemon) and return a reader of its kits, as `sp404d sync` reads them."""
    from sp404d import config
    from sp404d.cli_library import library
    from sp404d.kits import resolve

    drum_library(tmp_path / "Lib")
    assert env.cli("import", str(tmp_path / "Lib")).returncode == 0
    cfg = config.load(env.config)

    def kits() -> list:
        with library(cfg).connection_context():
            return resolve.all_pads(cfg.kits)
    return kits


def one_more_sample(env, tmp_path: Path) -> None:
    """A sample newer than every other: the NEW kit shifts by one pad."""
    time.sleep(1.1)  # a newer "added" than every sample so far
    write(tmp_path / "More" / "zz_new_hit.wav", hit(4242, 0.3))
    assert env.cli("import", str(tmp_path / "More")).returncode == 0


@pytest.fixture
def card(tmp_path):
    c = fat.FatCard(tmp_path / "cardspace")
    yield c
    if c.proc is not None:
        c.pull()


def card_config(env, card: fat.FatCard) -> None:
    with open(env.config, "a") as f:
        f.write(f'[cards]\nmount_roots = ["{card.mount_root}"]\npoll_seconds = 0.3\n')


def last_sync(env, card_path: Path, after: float = 0.0) -> dict:
    def synced():
        for c in env.status()["cards"]:
            sync = c.get("last_sync")
            if c["path"] == str(card_path) and sync and sync["finished_at"] > after:
                return sync
        return None
    return wait_until(synced, 120, interval=0.2, what="the card to be synced")


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
    spare = next(k for k in ("kick_01", "kick_02", "kick_03")
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
    assert first.returncode == 0 and json.loads(out)["written"] == 32, err
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
        assert len(manifest["files"]) == 32 and not any(e.get("pending") for e in manifest["files"].values())
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


def test_a_pull_between_the_check_and_the_write_still_writes_nothing_onto_the_computer(daemon_env, card, tmp_path):
    """The race a CI run caught: the card is pulled after the sync checked it was there and before
    the write. The mount point is left as a plain folder of the computer's disk (as with an fstab
    mount point); every change goes through a descriptor of the card opened at the start, so it
    fails instead of landing there. The check is switched off here to open the window wide."""
    env = daemon_env
    kits = imported_kits(env, tmp_path)()
    card.mount()
    card.layout()

    class Unchecked(Card):
        def _guard(self) -> None:
            pass

    asked = []

    def pull_on_the_third_pad() -> bool:
        asked.append(1)
        if len(asked) == 3:
            card.pull()
            card.path.mkdir(exist_ok=True)  # the bare mount point, where a path would now lead
        return False

    report = Unchecked(card.path).sync(kits, stop=pull_on_the_third_pad)
    assert len(asked) == 3 and report.written == 2 and report.error, report.as_dict()
    assert list(card.path.iterdir()) == []
    card.path.rmdir()
    card.check()
    card.mount()
    assert_card_consistent(card.path)
    assert Card(card.path).sync(kits).error is None  # the next sync completes the kits
    manifest = assert_card_consistent(card.path)
    assert len(manifest["files"]) == 32 and not any(e.get("pending") for e in manifest["files"].values())


def test_a_users_file_where_a_pad_goes_is_left_alone_and_not_rendered_again_each_sync(daemon_env, card, tmp_path,
                                                                                    monkeypatch):
    from sp404d.card import sync as card_sync

    env = daemon_env
    kits = imported_kits(env, tmp_path)()
    card.mount()
    card.layout()
    assert Card(card.path).sync(kits).written == 32
    pad = sorted((card.path / "IMPORT" / "DRUMS").iterdir())[0]
    rel = str(pad.relative_to(card.path))
    mine = write(tmp_path / "mine.wav", hit(5, 0.2)).read_bytes()
    pad.unlink()  # fusefat cannot truncate a file in place
    pad.write_bytes(mine)  # the user put their own sound there

    rendered = []
    real = card_sync.render
    monkeypatch.setattr(card_sync, "render", lambda path: rendered.append(path) or real(path))
    first = Card(card.path).sync(kits)
    assert (first.written, first.plan.blocked, len(rendered)) == (0, [rel], 1)  # compared once
    users = Card(card.path).manifest()["users"]  # remembered with the file's hash
    assert list(users) == [rel] and users[rel][1] == xxhash.xxh3_128_hexdigest(mine)
    again = Card(card.path).sync(kits)
    assert (again.written, again.plan.blocked, len(rendered)) == (0, [rel], 1)  # not rendered again
    pad.unlink()
    pad.write_bytes(write(tmp_path / "other.wav", hit(6, 0.2)).read_bytes())  # changed: compared again, still theirs
    third = Card(card.path).sync(kits)
    assert (third.plan.blocked, len(rendered)) == ([rel], 2)
    pad.unlink()  # the user removed it: the pad is written again, and the memo goes
    fourth = Card(card.path).sync(kits)
    assert fourth.written == 1 and fourth.error is None
    assert Card(card.path).manifest()["users"] == {}
    assert_card_consistent(card.path)


def test_one_new_sample_shifts_the_newest_kit_by_renames_not_rewrites(daemon_env, card, tmp_path):
    """The NEW kit is the 16 newest samples: one more moves every pad down by one. The sounds
    already on the card are renamed to their new pads; only the new one is rendered and written."""
    env = daemon_env
    kits = imported_kits(env, tmp_path)
    card.mount()
    card.layout()
    assert Card(card.path).sync(kits()).written == 32
    before = {p.name[3:]: xxhash.xxh3_128_hexdigest(p.read_bytes()) for p in (card.path / "IMPORT" / "NEW").iterdir()}
    one_more_sample(env, tmp_path)
    report = Card(card.path).sync(kits())
    new = lambda rels: [r for r in rels if r.startswith("IMPORT/NEW/")]  # noqa: E731
    assert len(new([w.rel for w in report.plan.write])) == 1 and len(new(report.plan.remove)) == 1
    assert len([1 for old, w in report.plan.move if w.rel.startswith("IMPORT/NEW/")]) == 15
    assert report.error is None and report.moved >= 15
    after = {p.name[3:]: xxhash.xxh3_128_hexdigest(p.read_bytes()) for p in (card.path / "IMPORT" / "NEW").iterdir()}
    assert sorted(p.name[:2] for p in (card.path / "IMPORT" / "NEW").iterdir()) == [f"{i:02d}" for i in range(1, 17)]
    assert sum(after.get(name) == digest for name, digest in before.items()) == 15  # same bytes, new pad
    assert_card_consistent(card.path)


def test_a_pad_file_is_read_before_a_sync_changes_it_even_when_its_stamp_says_it_is_ours(daemon_env, card, tmp_path):
    """A sync takes an unchanged pad file on its stamp (size and modification time as written), so a
    no-op sync does not read every pad. A file the user changed behind a stamp put back is still
    read before a sync would move, replace or remove it, and then left alone as theirs."""
    env = daemon_env
    kits = imported_kits(env, tmp_path)
    card.mount()
    card.layout()
    assert Card(card.path).sync(kits()).written == 32
    assert Card(card.path).sync(kits()).bytes_read == 0  # every stamp holds: nothing read back
    manifest = Card(card.path).manifest()  # one from before stamps: each file is read once, and stamped
    for entry in manifest["files"].values():
        entry.pop("mtime_ns")
    manifest["seq"] += 10
    for slot in manifest_store.SLOTS:
        (card.path / "SP404D" / slot).unlink()
        (card.path / "SP404D" / slot).write_bytes(manifest_store.encode(manifest))
    upgraded = Card(card.path).sync(kits())
    assert (upgraded.written, upgraded.error) == (0, None) and upgraded.bytes_read > 1e6
    assert Card(card.path).sync(kits()).bytes_read == 0

    pad = sorted((card.path / "IMPORT" / "NEW").iterdir())[0]
    rel = str(pad.relative_to(card.path))
    ours, st = pad.read_bytes(), pad.stat()
    theirs = ours[:44] + bytes(b ^ 0x55 for b in ours[44:])  # same header and length, other sound
    pad.unlink()  # fusefat cannot truncate a file in place
    pad.write_bytes(theirs)
    os.utime(pad, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert (pad.stat().st_size, pad.stat().st_mtime_ns) == (st.st_size, st.st_mtime_ns)

    same = Card(card.path).sync(kits())  # nothing to change: the stamp is taken as it is
    assert (same.written, same.moved, same.removed, same.error) == (0, 0, 0, None) and rel in same.plan.keep

    one_more_sample(env, tmp_path)  # NEW shifts: this file would move to pad 2
    shifted = Card(card.path).sync(kits())
    assert shifted.error is None and rel in shifted.plan.forget
    assert rel not in [old for old, _ in shifted.plan.move] + shifted.plan.remove
    assert pad.read_bytes() == theirs  # read, found to be the user's, not touched
    assert rel not in Card(card.path).manifest()["files"]
    moved_to = [p for p in (card.path / "IMPORT" / "NEW").iterdir() if p.name[2:] == pad.name[2:] and p != pad]
    assert len(moved_to) == 1 and moved_to[0].name.startswith("02_")  # its sound, rendered again at pad 2
    assert xxhash.xxh3_128_hexdigest(moved_to[0].read_bytes()) == xxhash.xxh3_128_hexdigest(ours)
    assert_card_consistent(card.path)


@pytest.mark.parametrize("phase", ["after-mark", "after-rename"])
def test_a_card_pulled_mid_move_is_consistent_and_the_next_sync_completes(daemon_env, card, tmp_path, phase):
    """Pulled right after the third move was marked pending on the card (the rename not done), or
    right after its rename (the manifest not yet saved): both leave whole files only, and the next
    sync finishes the kit."""
    env = daemon_env
    kits = imported_kits(env, tmp_path)
    card.mount()
    card.layout()
    assert Card(card.path).sync(kits()).written == 32
    one_more_sample(env, tmp_path)

    class PulledMidMove(Card):
        moves = 0

        def save(self, manifest: dict) -> None:
            super().save(manifest)
            if phase == "after-mark" and self.moves == 3:
                card.pull()

        def _move(self, rel, w, manifest) -> None:
            self.moves += 1
            super()._move(rel, w, manifest)
            if phase == "after-rename" and self.moves == 3:
                card.pull()

    report = PulledMidMove(card.path).sync(kits())
    assert report.error and report.moved == (2 if phase == "after-mark" else 3), report.as_dict()
    card.check()
    card.mount()
    assert_card_consistent(card.path)
    done = Card(card.path).sync(kits())
    assert done.error is None, done.as_dict()
    manifest = assert_card_consistent(card.path)
    assert len(manifest["files"]) == 32 and not any(e.get("pending") for e in manifest["files"].values())
    assert sorted(p.name[:2] for p in (card.path / "IMPORT" / "NEW").iterdir()) == [f"{i:02d}" for i in range(1, 17)]


def test_a_full_card_stops_the_sync_with_a_clear_message_and_stays_consistent(daemon_env, tmp_path):
    env = daemon_env
    drum_library(tmp_path / "Lib", seconds=2.0)
    assert env.cli("import", str(tmp_path / "Lib")).returncode == 0
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
        assert 0 < len(written) < 32
        assert filler.stat().st_size > 0
        filler.unlink()  # room again: the next sync completes
        r = env.cli("sync", "--card", str(small.path), "--json")
        assert r.returncode == 0 and json.loads(r.stdout)["error"] is None
        assert len(assert_card_consistent(small.path)["files"]) == 32
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
