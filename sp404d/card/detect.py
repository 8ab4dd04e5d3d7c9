"""Which mounted volumes are SP-404MKII cards, which are to be ingested, and which to leave alone.

Only the top level of a volume mounted directly in a mount root counts: a folder called IMPORT
somewhere on a disk is not a card.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from sp404d.errors import Sp404dError


OWN_FOLDER = "SP404D"  # where sp404d keeps its manifest on a card it has written


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


def sync_targets(card: str | None, mounted_cards: Callable[[], list[str]], mount_roots) -> list[str]:
    """The cards a sync writes to: the one named, or every SP-404MKII card mounted now (asked of
    `mounted_cards` only then: the CLI looks through the mount roots for them)."""
    if card:
        if not os.path.isdir(card):
            raise Sp404dError(f"no card at {card}")
        top = set(os.listdir(card))
        if not is_sp404_card(top) and OWN_FOLDER not in {n.upper() for n in top}:
            # a mistyped --card ~ must not grow IMPORT/ and SP404D/ folders in someone's home
            raise Sp404dError(f"{card} does not look like an SP-404MKII card (no IMPORT/ beside EXPORT/ or BKUP/ at "
                              f"its top); give the card's mount point, or make IMPORT/ and EXPORT/ there first")
        return [os.path.abspath(card)]
    mounted_cards = mounted_cards()
    if not mounted_cards:
        roots = ", ".join(str(r) for r in mount_roots)
        raise Sp404dError(f"no SP-404MKII card is mounted (looked in {roots}); name one with --card PATH")
    return mounted_cards


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
