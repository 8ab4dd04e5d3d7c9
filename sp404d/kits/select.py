"""Choosing a kit's pads: pure functions over rows the search returns.

Pins are placed first. A slot whose query has its own sort (`sort:-added`: the NEW kit) takes, in
pad order, the first sound of that order not already on the kit and not silent. Every other slot takes the
**best** match (score.py): a sound whose name does not contradict its category, of a length usual
for its role, not silent, scored by how well its names back its category, the category's
confidence, its length and its level. Within a kit:

- no two pads hold one sound, nor two layers of one drum (score.identity);
- pads of one query spread over source folders: a match from a folder that already gives another
  pad of that query counts SPREAD less;
- the kit is stable. Sounds arrive in drops (everything recorded in one import run, or without a
  pause of GAP_SECONDS). The kit is built drop by drop, oldest first: within a drop only the score
  counts, never the order the files came in; a sound of a later drop takes a pad from the sound
  on it only when it beats it by MARGIN (the weakest pad of the query, if it has several). So a new
  drop changes a pad only where a clearly better match arrived, and the same library always gives
  the same kit. A pad whose sound is gone, or is now on an earlier pad, takes the best one left.

A slot with no match left that fits stays empty and is reported; a kit is never padded with
something else.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Callable

from sp404d.kits import score as sc

PADS = 16
SILENT_DBFS = sc.SILENT_DBFS
MARGIN = 0.1        # how much better a newer sound must score to take a pad
SPREAD = 0.15       # what sharing a folder with another pad of the query costs
GAP_SECONDS = 120   # a pause this long between two recorded sounds ends a drop
UNDEFINED = "no query or pin (`kit fill` can fill it)"


def rank(row: dict) -> tuple:
    """The order of a search's results, and which file stands for a sound: the canonical member
    of its dedupe group, not clipped, not silent, the more confident category, the newest."""
    return (not row.get("canonical"), bool(row.get("clipped_samples")), silent(row),
            -(row.get("category_confidence") or 0.0), -(row.get("created_at") or 0.0), row["sample_id"])


@dataclass(frozen=True)
class Slot:
    pad: int                        # 1..16
    query: str | None = None        # a query, or
    pinned: dict | None = None      # a pinned sample's row (None if the pin's sample is gone)
    pin_text: str | None = None     # what was pinned, for the report
    sorted: bool = False            # the query has its own sort: take its order as it is
    fitting: bool = False           # ...but only a sound that fits a pad (like:: the nearest that fits)


@dataclass(frozen=True)
class Pad:
    pad: int
    row: dict | None                # the chosen sound, or None: empty
    why: str                        # "pinned", "query: ...", or why it is empty


def silent(row: dict) -> bool:
    peak = row.get("peak_dbfs")
    return peak is None or peak < SILENT_DBFS


def sound(row: dict) -> int:
    return row.get("group_id") or -row["sample_id"]


@dataclass(frozen=True)
class _Cand:
    row: dict
    score: float
    note: str
    drop: int
    sound: int
    drum: tuple
    folder: str


class _Taken:
    """The sounds and drums on the kit so far."""

    def __init__(self):
        self.sounds: set[int] = set()
        self.drums: set[tuple] = set()

    def add(self, c: _Cand) -> None:
        self.sounds.add(c.sound)
        self.drums.add(c.drum)

    def discard(self, c: _Cand) -> None:
        self.sounds.discard(c.sound)
        self.drums.discard(c.drum)

    def free(self, c: _Cand) -> bool:
        return c.sound not in self.sounds and c.drum not in self.drums


def _cand(row: dict, drop: int) -> _Cand | None:
    judged = sc.fit(row)
    if judged.score is None:
        return None
    return _Cand(row, judged.score, judged.note, drop, sound(row), sc.identity(row["path"]),
                 os.path.dirname(row["path"]))


def choose(slots: list[Slot], run_query: Callable[[str], list[dict]],
           drop_of: Callable[[dict], int] = lambda row: 0) -> list[Pad]:
    """Fill each slot (see the module's doc). `run_query(text)` returns the query's rows (in its
    sort order, for a sorted slot); `drop_of(row)` the drop a sound arrived in (0, 1, ...)."""
    chosen: dict[int, Pad] = {}
    pinned = _Taken()
    for slot in sorted(slots, key=lambda s: s.pad):
        if slot.pin_text is None:
            continue
        if slot.pinned is None:
            chosen[slot.pad] = Pad(slot.pad, None, f"pinned {slot.pin_text}: not in the library")
        else:
            chosen[slot.pad] = Pad(slot.pad, slot.pinned, f"pinned {slot.pin_text}")
            pinned.sounds.add(sound(slot.pinned))
            pinned.drums.add(sc.identity(slot.pinned["path"]))
    open_slots = [s for s in sorted(slots, key=lambda s: s.pad) if s.pad not in chosen]
    for slot in open_slots:
        if not slot.query:
            chosen[slot.pad] = Pad(slot.pad, None, UNDEFINED)
    ranked = [s for s in open_slots if s.query and not s.sorted]
    state, taken, cands, unfit = _replay(ranked, run_query, drop_of, pinned)
    for slot in ranked:
        c = state.get(slot.pad)
        chosen[slot.pad] = (Pad(slot.pad, c.row, f"query: {slot.query} ({c.note}, {c.score:.2f})") if c else
                            Pad(slot.pad, None, _empty_why(slot.query, len(cands[slot.query]), unfit[slot.query])))
    for slot in (s for s in open_slots if s.query and s.sorted):
        for row in run_query(slot.query):
            if sound(row) in taken.sounds or silent(row):  # a silent file on a pad is never what was meant
                continue
            if not slot.fitting or sc.fit(row).score is not None:
                taken.sounds.add(sound(row))
                chosen[slot.pad] = Pad(slot.pad, row, f"query: {slot.query}")
                break
        else:
            chosen[slot.pad] = Pad(slot.pad, None, f"nothing left matches {slot.query!r}")
    return [chosen.get(p, Pad(p, None, UNDEFINED)) for p in range(1, PADS + 1)]


def _empty_why(query: str, fitting: int, unfit: dict[str, int]) -> str:
    reasons = [f"{fitting} on other pads or layers of a drum on one"] if fitting else []
    reasons += [f"{n} {why}" for why, n in sorted(unfit.items(), key=lambda kv: (-kv[1], kv[0]))]
    return f"nothing left fits {query!r}" + (f" ({'; '.join(reasons)})" if reasons else ": no match")


def _order(c: _Cand, score: float | None = None) -> tuple:
    """Best first. Scores equal to two decimals go to the louder sound (of a drum's layers, the
    full hit rather than the softest), then by content: never by arrival."""
    return (-round(c.score if score is None else score, 2), -(c.row.get("loudness_lufs") or -99.0),
            c.row.get("pcm_hash") or "", c.row["path"])


def _replay(slots: list[Slot], run_query, drop_of, pinned: _Taken):
    """The ranked slots' sounds after every drop, oldest drop first. Slots with the same query
    form a group, taken in the order of their first pad."""
    groups: dict[str, list[int]] = {}
    for slot in slots:
        groups.setdefault(slot.query, []).append(slot.pad)
    cands: dict[str, list[_Cand]] = {}
    unfit: dict[str, dict[str, int]] = {}
    by_drop: dict[str, dict[int, list[_Cand]]] = {}
    for query in groups:
        cands[query], unfit[query], by_drop[query] = [], {}, {}
        for row in run_query(query):
            c = _cand(row, drop_of(row))
            if c is None:
                why = sc.fit(row).note
                why = "named otherwise" if why.startswith("its name") else why.split(" (")[0]
                unfit[query][why] = unfit[query].get(why, 0) + 1
            else:
                cands[query].append(c)
        cands[query].sort(key=_order)
        for c in cands[query]:
            by_drop[query].setdefault(c.drop, []).append(c)
    state: dict[int, _Cand] = {}
    taken = pinned
    for drop in sorted({c.drop for cs in cands.values() for c in cs}):
        taken = _Taken()
        taken.sounds |= pinned.sounds
        taken.drums |= pinned.drums
        for query, pads in groups.items():
            _step(pads, cands[query], by_drop[query].get(drop, []), drop, state, taken)
    return state, taken, cands, unfit


def _step(pads: list[int], cands: list[_Cand], new: list[_Cand], drop: int, state: dict[int, _Cand],
          taken: _Taken) -> None:
    """One group's pads after one more drop: keep what still may stay, fill what is empty with the
    best left (of `cands`, best first, those arrived by this drop), then let this drop's sounds
    (`new`) take the weakest pad by MARGIN, best first."""
    for pad in pads:
        c = state.get(pad)
        if c is not None and taken.free(c):
            taken.add(c)
        else:
            state.pop(pad, None)

    def effective(c: _Cand, besides: int | None) -> float:
        shared = any(state[p].folder == c.folder for p in pads if p != besides and p in state)
        return c.score - (SPREAD if shared else 0.0)

    for pad in pads:
        if pad not in state:
            best = _best_left(cands, drop, taken, lambda c: effective(c, pad))
            if best is not None:
                state[pad] = best
                taken.add(best)
    for c in new:
        if not taken.free(c) or any(p not in state for p in pads):
            continue
        weakest = min(pads, key=lambda p: (state[p].score, -p))
        if effective(c, weakest) > state[weakest].score + MARGIN:
            taken.discard(state[weakest])
            state[weakest] = c
            taken.add(c)


def _best_left(cands: list[_Cand], drop: int, taken: _Taken, effective) -> _Cand | None:
    """The best free sound arrived by `drop`, counting SPREAD: `cands` are best first, so the search
    stops once a sound scores SPREAD below the first free one."""
    best = first = None
    for c in cands:
        if c.drop > drop or not taken.free(c):
            continue
        if first is None:
            first = best = c
            if effective(c) == c.score:
                return c
        elif round(c.score, 2) < round(first.score - SPREAD, 2):
            break
        elif _order(c, effective(c)) < _order(best, effective(best)):
            best = c
    return best
