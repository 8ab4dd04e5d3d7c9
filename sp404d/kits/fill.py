"""Completing a kit, and alternatives for one pad: pure functions over search rows and embeddings.

`kit fill` gives each empty pad the sound that fits best with the pads already chosen: the same
feel (nearest, on average, to the chosen pads' embeddings), a different role. Roles are
categories. The roles the kit lacks come first, in the order a drum kit is built (kick, snare,
hats, clap, ...); once every role the library offers is on the kit, the least-represented role
is taken again. Within a role the sound nearest in feel wins; a sound that does not fit a pad at
all (score.fit: silent, its name contradicting its category, a length outside its role's limits)
is never taken, nor one whose category is unsure (ROLE_SURE), and no two pads hold one sound or
two layers of one drum (score.identity), as for any kit. A kit whose chosen pads are all one-shots is completed with one-shots (all loops:
with loops).

`kit alt` lists the sounds nearest to one pad's sound (within that pad's query, if it has one).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Callable

import numpy as np

from sp404d.analysis.tags import CATEGORIES
from sp404d.kits import score as sc
from sp404d.kits.select import sound

# the order a kit is completed in: a drum kit's roles first, then what a kit of loops and notes has
ROLE_ORDER = ("kick", "snare", "hat-closed", "hat-open", "clap", "rim", "tom", "cymbal", "perc", "808", "bass",
              "keys/melodic", "pad", "vocal", "fx", "drum-loop", "melodic-loop", "vocal-loop")
assert set(ROLE_ORDER) == set(CATEGORIES)

# a sound whose category the analysis was this unsure of (the audio alone, odds split between
# classes) does not stand for a role: a fresh user's kit got a drum hit (EE_Drum_2, "bass" at 0.34)
# as "the bass the kit lacked"
ROLE_SURE = 0.5

Distances = Callable[[np.ndarray, np.ndarray], np.ndarray]  # (query (d,), matrix (n, d)) -> (n,)


@dataclass(frozen=True)
class Choice:
    pad: int
    row: dict
    why: str


def feel(chosen: np.ndarray, candidates: np.ndarray, distances: Distances) -> np.ndarray:
    """Each candidate's mean distance to the chosen pads: how far it sits from the kit's feel."""
    return np.mean([distances(v, candidates) for v in chosen], axis=0)


def plan(chosen: list[dict], chosen_vectors: np.ndarray, candidates: list[dict], candidate_vectors: np.ndarray,
         empty: list[int], distances: Distances) -> list[Choice]:
    """Sounds for the `empty` pads (in pad order). `chosen`: the rows on the kit's filled pads;
    `candidates`: the sounds the kit's filter allows, one row per sound, each with a vector."""
    if not empty or not candidates:
        return []
    used = {sound(r) for r in chosen}
    drums = {sc.identity(r["path"]) for r in chosen}
    kinds = {r.get("kind") for r in chosen}
    kind = kinds.pop() if len(kinds) == 1 else None  # a kit of one-shots is completed with one-shots
    roles = Counter(r.get("category") for r in chosen)
    far = feel(chosen_vectors, candidate_vectors, distances) if len(chosen) else np.zeros(len(candidates))
    by_role: dict[str, list[int]] = {}
    for i in np.argsort(far, kind="stable"):  # nearest in feel first, within each role
        row = candidates[int(i)]
        if kind is not None and row.get("kind") != kind:
            continue
        if (row.get("category") in ROLE_ORDER and (row.get("category_confidence") or 0.0) >= ROLE_SURE
                and sound(row) not in used and sc.fit(row).score is not None):
            by_role.setdefault(row["category"], []).append(int(i))
    choices = []
    for pad in empty:
        pick = None
        # the least-represented role first, ties in kit order
        for role in sorted(by_role, key=lambda r: (roles[r], ROLE_ORDER.index(r))):
            for i in by_role[role]:
                row = candidates[i]
                if sound(row) not in used and sc.identity(row["path"]) not in drums:
                    pick = i
                    break
            if pick is not None:
                break
        if pick is None:
            break  # nothing left that fits: the remaining pads stay empty
        row = candidates[pick]
        used.add(sound(row))
        drums.add(sc.identity(row["path"]))
        lacking = roles[row["category"]] == 0
        roles[row["category"]] += 1
        how = "a role the kit lacked" if lacking else "another of its roles"
        choices.append(Choice(pad, row, f"fill: {row['category']}, {how}, nearest in feel" if len(chosen)
                              else f"fill: {row['category']}, {how}"))
    return choices


def alternatives(current: dict, current_vector: np.ndarray, candidates: list[dict], candidate_vectors: np.ndarray,
                 distances: Distances, limit: int, taken: set[int] = frozenset(),
                 taken_drums: set[tuple] = frozenset()) -> list[tuple[dict, float]]:
    """The sounds nearest to `current` among `candidates`, never itself or its copies (its
    group), nor another layer or round robin of its drum (score.identity: "more like this" is other
    drums, not this one softer), nor a sound on another pad of the kit (`taken`) or a layer of a drum
    on one (`taken_drums`: a kit holds one layer of each drum); of its kind (a hat's alternatives are
    one-shots, not the drum loops whose hats sound alike), as `sp404d similar` answers."""
    if not candidates:
        return []
    d = distances(current_vector, candidate_vectors)
    drum = sc.identity(current["path"])
    out = []
    for i in np.argsort(d, kind="stable"):
        row = candidates[int(i)]
        if sound(row) == sound(current) or sound(row) in taken or row.get("kind") != current.get("kind"):
            continue
        other = sc.identity(row["path"])
        if other == drum or other in taken_drums:
            continue
        out.append((row, float(d[int(i)])))
        if len(out) == limit:
            break
    return out
