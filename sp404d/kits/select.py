"""Choosing a kit's pads: pure functions over rows the search returns.

"Best" (the order a slot query's matches are tried in):
  1. the canonical member of its dedupe group (the best-quality source of that sound);
  2. not clipped;
  3. not silent (peak above -60 dBFS);
  4. the more confident category;
  5. the newest;
  6. the lowest sample id (so the choice is the same for the same library).
A slot takes the best match not already on another pad of the kit; pins are placed first. A slot
with no such match stays empty and is reported; a kit is never padded with something else.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

PADS = 16
SILENT_DBFS = -60.0


def rank(row: dict) -> tuple:
    peak = row.get("peak_dbfs")
    return (not row.get("canonical"), bool(row.get("clipped_samples")), peak is None or peak < SILENT_DBFS,
            -(row.get("category_confidence") or 0.0), -(row.get("created_at") or 0.0), row["sample_id"])


@dataclass(frozen=True)
class Slot:
    pad: int                        # 1..16
    query: str | None = None        # a query, or
    pinned: dict | None = None      # a pinned sample's row (None if the pin's sample is gone)
    pin_text: str | None = None     # what was pinned, for the report


@dataclass(frozen=True)
class Pad:
    pad: int
    row: dict | None                # the chosen sound, or None: empty
    why: str                        # "pinned", "query: ...", or why it is empty


def choose(slots: list[Slot], run_query: Callable[[str], list[dict]]) -> list[Pad]:
    """Fill each slot: pins first (in pad order), then queries in pad order, each taking its best
    match whose sound is not already on the kit. `run_query(text)` returns rows best first."""
    taken: set[int] = set()
    chosen: dict[int, Pad] = {}

    def sound(row: dict) -> int:
        return row.get("group_id") or -row["sample_id"]

    for slot in sorted(slots, key=lambda s: s.pad):
        if slot.pin_text is not None:
            if slot.pinned is None:
                chosen[slot.pad] = Pad(slot.pad, None, f"pinned {slot.pin_text}: not in the library")
            else:
                chosen[slot.pad] = Pad(slot.pad, slot.pinned, f"pinned {slot.pin_text}")
                taken.add(sound(slot.pinned))
    for slot in sorted(slots, key=lambda s: s.pad):
        if slot.pad in chosen:
            continue
        if not slot.query:
            chosen[slot.pad] = Pad(slot.pad, None, "no query")
            continue
        for row in run_query(slot.query):
            if sound(row) not in taken:
                taken.add(sound(row))
                chosen[slot.pad] = Pad(slot.pad, row, f"query: {slot.query}")
                break
        else:
            chosen[slot.pad] = Pad(slot.pad, None, f"nothing left matches {slot.query!r}")
    return [chosen.get(p, Pad(p, None, "no slot")) for p in range(1, PADS + 1)]
