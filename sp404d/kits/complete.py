"""`kit fill` and `kit alt` against the library: the kit's pads and candidates from search, their
vectors from the similarity index (the daemon's live one, else read from the library), the
decisions from fill.py. Reads only (on the caller's connection); what it decides reaches the
library as pins, through the one writer, like any kit edit."""

from __future__ import annotations

import numpy as np

from sp404d.analysis import embedding
from sp404d.errors import Sp404dError, UsageError
from sp404d.kits import fill, resolve, search
from sp404d.kits import query as q
from sp404d.kits.define import KitDef
from sp404d.kits.like import sound_of
from sp404d.kits.score import identity
from sp404d.kits.select import PADS, sound
from sp404d.library import similar_index
from sp404d.library.models import Sample
from sp404d.library.similar_index import SimilarIndex


def vectors(rows: list[dict], index: SimilarIndex) -> tuple[list[dict], np.ndarray]:
    """The rows whose sound has a vector in the index (an older analysis has none until
    re-analysed), and those vectors as a matrix."""
    found = [(r, index.vector(sound_of(r))) for r in rows]
    kept = [(r, v) for r, v in found if v is not None]
    matrix = (np.stack([v for _, v in kept]) if kept else np.zeros((0, embedding.DIM), dtype=np.float32))
    return [r for r, _ in kept], matrix


def fillable(kit: KitDef) -> list[int]:
    """Pads the user left undefined: no query and no pin (a pad with either is the user's)."""
    defined = {p.pad for p in kit.pads if p.query or p.pin}
    return [p for p in range(1, PADS + 1) if p not in defined]


def plan_fill(kit: KitDef) -> list[fill.Choice]:
    pads = resolve.pads(kit)
    chosen_rows = [p.row for p in pads if p.row is not None]
    empty = [p for p in fillable(kit) if pads[p - 1].row is None]
    if not empty:
        return []
    if not chosen_rows:
        raise Sp404dError(f"kit {kit.name!r} has no sound yet to fill around: set or pin a pad first")
    index = similar_index.for_reading(Sample._meta.database)
    chosen, chosen_v = vectors(chosen_rows, index)
    if not chosen:
        raise Sp404dError(f"the sounds on kit {kit.name!r} have no embedding yet (an older analysis): "
                          "let the daemon re-analyse the library first")
    base = q.parse(kit.filter) if kit.filter else q.Query()
    candidates, cand_v = vectors(search.sounds(base), index)
    return fill.plan(chosen, chosen_v, candidates, cand_v, empty, embedding.distances)


def alternatives(kit: KitDef, pad: int, limit: int) -> tuple[dict, list[tuple[dict, float]]]:
    """The pad's sound and the sounds nearest to it, within the pad's query (a pinned pad: its
    sound's category) and the kit's filter."""
    if not 1 <= pad <= PADS:
        raise UsageError(f"pad must be a number from 1 to {PADS} (got {pad})")
    pads = resolve.pads(kit)
    current = pads[pad - 1].row
    if current is None:
        raise Sp404dError(f"pad {pad} of kit {kit.name!r} is empty: nothing to find alternatives to")
    index = similar_index.for_reading(Sample._meta.database)
    mine, mine_v = vectors([current], index)
    if not mine:
        raise Sp404dError(f"pad {pad}'s sound has no embedding yet (an older analysis): let the daemon re-analyse it")
    text = next((p.query for p in kit.pads if p.pad == pad and p.query), None)
    query = q.parse(kit.filter) if kit.filter else q.Query()
    if text:
        query = query & q.parse(text)
    elif current.get("category"):
        # a pinned pad's role is its sound's: a closed hat's alternatives are closed hats, not the
        # kicks recorded in the same room that sound nearest (a fresh user's `kit alt` offered 5)
        query = query & q.parse(f"category:{current['category']}")
    candidates, cand_v = vectors(search.sounds(query, index), index)
    others = [p.row for p in pads if p.row is not None and p.pad != pad]
    return current, fill.alternatives(current, mine_v[0], candidates, cand_v, embedding.distances, limit,
                                      taken={sound(r) for r in others}, taken_drums={identity(r["path"]) for r in others})
