"""`kit fill` and `kit alt` against the library: the kit's pads and candidates from search, their
embeddings from the library, the decisions from fill.py. Reads only (on the caller's connection);
what it decides reaches the library as pins, through the one writer, like any kit edit."""

from __future__ import annotations

import numpy as np

from sp404d.analysis import embedding
from sp404d.errors import Sp404dError
from sp404d.kits import fill, resolve, search
from sp404d.kits import query as q
from sp404d.kits.define import KitDef
from sp404d.kits.select import PADS
from sp404d.library.models import Sample

CHUNK = 500  # sample ids per SELECT: under SQLite's variable limit


def vectors(rows: list[dict]) -> tuple[list[dict], np.ndarray]:
    """The rows that have an embedding (an older analysis has none until re-analysed), and them."""
    ids = [r["sample_id"] for r in rows]
    found: dict[int, bytes] = {}
    for i in range(0, len(ids), CHUNK):
        for sid, blob in (Sample.select(Sample.id, Sample.embedding).where(Sample.id.in_(ids[i:i + CHUNK]))
                          .tuples()):
            if blob:
                found[sid] = blob
    kept = [r for r in rows if r["sample_id"] in found]
    matrix = (np.stack([embedding.unpack(found[r["sample_id"]]) for r in kept]) if kept
              else np.zeros((0, embedding.DIM), dtype=np.float32))
    return kept, matrix


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
    chosen, chosen_v = vectors(chosen_rows)
    if not chosen:
        raise Sp404dError(f"the sounds on kit {kit.name!r} have no embedding yet (an older analysis): "
                          "let the daemon re-analyse the library first")
    base = q.parse(kit.filter) if kit.filter else q.Query()
    candidates, cand_v = vectors(search.sounds(base))
    return fill.plan(chosen, chosen_v, candidates, cand_v, empty, embedding.distances)


def alternatives(kit: KitDef, pad: int, limit: int) -> tuple[dict, list[tuple[dict, float]]]:
    """The pad's sound and the sounds nearest to it, within the pad's query and the kit's filter."""
    if not 1 <= pad <= PADS:
        raise Sp404dError(f"pad must be a number from 1 to {PADS} (got {pad})")
    pads = resolve.pads(kit)
    current = pads[pad - 1].row
    if current is None:
        raise Sp404dError(f"pad {pad} of kit {kit.name!r} is empty: nothing to find alternatives to")
    mine, mine_v = vectors([current])
    if not mine:
        raise Sp404dError(f"pad {pad}'s sound has no embedding yet (an older analysis): let the daemon re-analyse it")
    text = next((p.query for p in kit.pads if p.pad == pad and p.query), None)
    query = q.parse(kit.filter) if kit.filter else q.Query()
    if text:
        query = query & q.parse(text)
    candidates, cand_v = vectors(search.sounds(query))
    taken = {fill.sound(p.row) for p in pads if p.row is not None and p.pad != pad}
    return current, fill.alternatives(current, mine_v[0], candidates, cand_v, embedding.distances, limit, taken)
