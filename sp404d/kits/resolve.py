"""Kits in effect, and the sound on each pad: the config's kits overlaid with the library's, each
slot filled by select.choose from search results. Reads only (on the caller's connection)."""

from __future__ import annotations

import bisect
import os

from sp404d.errors import Sp404dError
from sp404d.kits import query as q
from sp404d.kits import search
from sp404d.kits.define import KitDef, merged
from sp404d.kits.select import GAP_SECONDS, Pad, Slot, choose, rank
from sp404d.library.models import Kit, KitPad, Location, Sample


class UnknownKit(Sp404dError):
    pass


def stored() -> list[dict]:
    kits = []
    for kit in Kit.select().order_by(Kit.id):
        pads = {p.pad: (p.query, str(p.sample_id) if p.sample_id else None)
                for p in KitPad.select().where(KitPad.kit == kit)}
        kits.append({"name": kit.name, "filter": kit.filter, "sync": kit.sync, "pads": pads})
    return kits


def kits(configured: tuple[KitDef, ...]) -> list[KitDef]:
    return merged(configured, stored())


def find(configured: tuple[KitDef, ...], name: str) -> KitDef:
    for kit in kits(configured):
        if kit.name.lower() == name.lower():
            return kit
    known = ", ".join(k.name for k in kits(configured)) or "none"
    raise UnknownKit(f"no kit named {name!r} (kits: {known})")


def sample_for(pin: str) -> dict | None:
    """A pin's sound: a sample id, or a path the library knows. None if neither."""
    if pin.isdigit():
        rows = list(search.matching(q.Query(), sample_id=int(pin)))
    else:
        path = os.path.abspath(os.path.expanduser(pin))
        loc = Location.get_or_none(Location.path == path)
        rows = list(search.matching(q.Query(), sample_id=loc.sample_id)) if loc else []
        rows = [r for r in rows if r["path"] == path] or rows  # the pinned file itself when present
    return min(rows, key=rank) if rows else None


def _pin_text(pin: str | None, row: dict | None) -> str | None:
    """How a pin is shown: a sample id (as `kit fill` and `kit alt --pick` pin) with its file's name."""
    if pin and pin.isdigit() and row:
        return f"{os.path.basename(row['path'])} (sample {pin})"
    return pin


def all_pads(configured: tuple[KitDef, ...]) -> list[tuple[KitDef, list[Pad]]]:
    """Every kit in effect with its 16 pads: what a card sync writes."""
    return [(kit, pads(kit)) for kit in kits(configured)]


def pads(kit: KitDef) -> list[Pad]:
    """The 16 pads of a kit, deterministic for the same library."""
    base = q.parse(kit.filter) if kit.filter else q.Query()
    cache: dict[str, list[dict]] = {}

    def run(text: str) -> list[dict]:
        if text not in cache:  # "NEW" asks the same query 16 times
            cache[text] = search.sounds(base & q.parse(text))
        return cache[text]

    starts = drop_starts()
    parsed = {p.pad: q.parse(p.query) for p in kit.pads if p.query}
    pinned = {p.pad: sample_for(p.pin) for p in kit.pads if p.pin}
    slots = [Slot(p.pad, query=p.query, pinned=pinned.get(p.pad), pin_text=_pin_text(p.pin, pinned.get(p.pad)),
                  sorted=bool(p.query and parsed[p.pad].ordered),
                  fitting=bool(p.query and parsed[p.pad].like is not None))
             for p in kit.pads]
    return choose(slots, run, lambda row: bisect.bisect_right(starts, row["arrived"]))


_DROP_STARTS = """
SELECT created_at FROM (SELECT created_at, LAG(created_at) OVER (ORDER BY created_at) AS before FROM sample)
 WHERE before IS NOT NULL AND created_at - before > ?
UNION SELECT started_at FROM import_run ORDER BY 1
"""


def drop_starts() -> list[float]:
    """When each drop after the first began: a new import run, or a sound recorded after a pause
    of GAP_SECONDS (a daemon's run lasts as long as the daemon)."""
    return [t for (t,) in Sample._meta.database.execute_sql(_DROP_STARTS, (GAP_SECONDS,))]
