"""What the card tests share: a drum library of short hits, its kits, and checks of a card's state."""

from __future__ import annotations

import struct
import time
from pathlib import Path

import soundfile as sf
import xxhash

from fixtures import card as fat
from fixtures.audio import hit, write
from sp404d.card.sync import Card
from tests.conftest import wait_until


# three kicks and two snares that are different drums (kick_01 and kick_02 would be two layers of one)
NAMES = ["kick_boom", "kick_punch", "kick_deep", "snare_crack", "snare_tight", "clap_1", "hh_closed", "open_hat", "rim_1",
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
