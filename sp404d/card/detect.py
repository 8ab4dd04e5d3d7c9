"""Which mounted volumes are SP-404MKII cards, which are to be ingested, and which to leave alone.

Only the top level of a volume mounted directly in a mount root counts: a folder called IMPORT
somewhere on a disk is not a card.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Volume:
    path: Path
    label: str     # the mount folder's name: what udisks and macOS name it after the volume label
    role: str      # "card" or "ingest"


def is_sp404_card(top_level: set[str]) -> bool:
    """FAT is case-insensitive, so the names are compared in upper case."""
    names = {n.upper() for n in top_level}
    if any(n.startswith("SP404MKII_APP") and n.endswith(".BIN") for n in names):
        return True
    return "IMPORT" in names and ("EXPORT" in names or "BKUP" in names)


def role(label: str, top_level: set[str], card_labels: tuple[str, ...], ingest_labels: tuple[str, ...]) -> str | None:
    if label in card_labels or is_sp404_card(top_level):
        return "card"
    if label in ingest_labels:
        return "ingest"
    return None  # someone else's disk: left alone


def mount_identity(path: Path) -> tuple:
    """What tells one mounting of a volume from the next: Linux gives every mount a new id in
    /proc/self/mountinfo (a device number can be reused by a quick re-plug); elsewhere st_dev."""
    st = os.stat(path)
    try:
        with open("/proc/self/mountinfo") as f:
            for line in f:
                fields = line.split()
                if len(fields) > 4 and fields[4].replace("\\040", " ") == str(path):
                    return st.st_dev, int(fields[0])
    except OSError:
        pass
    return (st.st_dev,)


def mounted(mount_roots: tuple[Path, ...], card_labels=(), ingest_labels=()) -> list[Volume]:
    """The volumes mounted right now under the mount roots that are ours to use."""
    found = []
    for root in mount_roots:
        try:
            entries = sorted(os.scandir(root), key=lambda e: e.name)
        except OSError:  # a root that does not exist on this system
            continue
        for entry in entries:
            path = Path(entry.path)
            try:
                if not entry.is_dir(follow_symlinks=False) or not os.path.ismount(path):
                    continue
                top = set(os.listdir(path))
            except OSError:  # unmounted while we looked, or unreadable
                continue
            kind = role(entry.name, top, tuple(card_labels), tuple(ingest_labels))
            if kind:
                found.append(Volume(path, entry.name, kind))
    return found
