"""Card.sync on a real FAT32 card, driven directly: pulls at the worst moments, the user's files,
renames instead of rewrites, and what a sync reads back."""

from __future__ import annotations

import os

import pytest
import xxhash

from fixtures import card as fat
from fixtures.audio import hit, write
from sp404d.card import manifest as manifest_store
from sp404d.card.sync import Card
from sp404d.cli_library import format_sync
from tests.card_helpers import assert_card_consistent, imported_kits, one_more_sample

pytestmark = pytest.mark.skipif(fat.available() is not None, reason=str(fat.available()))


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
    assert first.plan.changed == [rel]  # sp404d wrote it, then the user replaced it: said so
    assert f"{rel}: changed on the card since sp404d wrote it: left alone" in format_sync(first.as_dict(), False)
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


def test_a_wav_carrying_ogg_vorbis_renders_and_a_source_that_cannot_be_read_waits_while_the_rest_are_written(
        daemon_env, card, tmp_path):
    """LMMS ships samples as WAVs holding an Ogg Vorbis stream: analysis reads them, and so must the
    card (ffmpeg has no decoder for them). A source that cannot be read at all (spoiled on disk
    since its import) leaves its pad for a later sync, named in one line; every other pad is written."""
    import shutil

    from tests.test_analysis import vorbis_in_wav

    env = daemon_env
    kits = imported_kits(env, tmp_path)()
    sources = sorted({p.row["path"] for _, pads in kits for p in pads if p.row})
    ogg_wav, spoiled = sources[0], sources[1]
    plain = tmp_path / "plain.ogg"
    write(plain, hit(77, 0.4))
    shutil.copyfile(ogg_wav, tmp_path / "kept.wav")
    with open(ogg_wav, "wb") as f:  # the same pad, now a Vorbis-in-WAV file
        f.write(vorbis_in_wav(plain.read_bytes()))
    with open(spoiled, "wb") as f:
        f.write(b"RIFF" + bytes(300))
    card.mount()
    card.layout()
    report = Card(card.path).sync(kits)
    wants = [w for w in report.plan.write]
    bad = {w.rel for w in wants if w.source == spoiled}
    assert report.error is None and bad and set(report.unreadable) == bad, report.as_dict()
    assert report.written == len(wants) - len(bad)
    assert all(not (card.path / rel).exists() for rel in bad)
    assert any(w.source == ogg_wav and (card.path / w.rel).stat().st_size > 44 for w in wants)
    text = format_sync(report.as_dict(), dry_run=False)
    assert f"not written, its source cannot be read: {spoiled}:" in text and "Traceback" not in text
    assert_card_consistent(card.path)
    shutil.copyfile(tmp_path / "kept.wav", spoiled)  # the source is good again: the next sync writes its pad
    again = Card(card.path).sync(kits)
    assert again.error is None and not again.unreadable and again.written == len(bad)
    assert_card_consistent(card.path)


def test_a_deleted_kit_leaves_the_card_at_the_next_sync_and_a_users_file_in_its_folder_stays(daemon_env, card, tmp_path):
    env = daemon_env
    kits = imported_kits(env, tmp_path)
    assert env.cli("kit", "new", "Mine").returncode == 0
    assert env.cli("kit", "pin", "Mine", "1", str(tmp_path / "Lib" / "Drums" / "kick_boom.wav")).returncode == 0
    assert env.cli("kit", "set", "Mine", "2", "category:snare").returncode == 0
    card.mount()
    card.layout()
    assert Card(card.path).sync(kits()).error is None
    mine = card.path / "IMPORT" / "MINE"
    assert sorted(p.name[:2] for p in mine.iterdir()) == ["01", "02"]
    (mine / "my_take.wav").write_bytes(b"the user's own file")
    assert env.cli("kit", "delete", "Mine").returncode == 0
    report = Card(card.path).sync(kits())
    assert report.error is None and len([r for r in report.plan.remove if r.startswith("IMPORT/MINE/")]) == 2
    assert [p.name for p in mine.iterdir()] == ["my_take.wav"]
    assert (card.path / "IMPORT" / "DRUMS").is_dir()  # the other kits are untouched
    manifest = assert_card_consistent(card.path)
    assert not [rel for rel in manifest["files"] if rel.startswith("IMPORT/MINE/")]
