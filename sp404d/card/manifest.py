"""The card's record of what sp404d wrote, kept so a pulled card cannot lose it.

FAT has no journal, and a card (or a FUSE filesystem killed mid-write) can be left with a renamed
file whose clusters hold old data. So the manifest is kept twice, SP404D/manifest-a.json and
manifest-b.json, each with a sequence number and a checksum of its body; a save replaces the older
copy. Reading takes the newest copy whose checksum holds: at worst the state one save earlier,
which the pending marks and content hashes make safe (see plan.py and sync.py).
"""

from __future__ import annotations

import json
from pathlib import Path

import xxhash

SLOTS = ("manifest-a.json", "manifest-b.json")


def empty() -> dict:
    return {"version": 1, "seq": 0, "files": {}, "folders": []}


def _body(manifest: dict) -> bytes:
    return json.dumps({k: v for k, v in manifest.items() if k != "checksum"}, indent=1, sort_keys=True).encode()


def encode(manifest: dict) -> bytes:
    body = _body(manifest)
    return json.dumps({**json.loads(body), "checksum": xxhash.xxh3_64_hexdigest(body)}, indent=1,
                      sort_keys=True).encode()


def decode(raw: bytes) -> dict | None:
    """The manifest in `raw`, or None if it is torn, garbled or not ours."""
    try:
        data = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(data, dict) or data.get("checksum") != xxhash.xxh3_64_hexdigest(_body(data)):
        return None
    data.setdefault("files", {})
    data.setdefault("folders", [])
    return data


def load(folder: Path) -> tuple[dict, str | None]:
    """(newest valid manifest, its slot); an empty one and None when there is none."""
    best, slot = None, None
    for name in SLOTS:
        try:
            found = decode((folder / name).read_bytes())
        except OSError:
            continue
        if found is not None and (best is None or found.get("seq", 0) > best.get("seq", 0)):
            best, slot = found, name
    return (best, slot) if best is not None else (empty(), None)


def next_slot(current: str | None) -> str:
    """Write over the older copy, never the one just read."""
    return SLOTS[1] if current == SLOTS[0] else SLOTS[0]
