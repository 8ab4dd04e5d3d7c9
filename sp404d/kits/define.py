"""Kit definitions: from the config's [[kits]] tables, overlaid with what the CLI stored in the
library (pads set or pinned there win). Pure: the library's rows are passed in."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from sp404d.card.naming import BadName, kit_folder
from sp404d.errors import ConfigError
from sp404d.kits import query as q
from sp404d.kits.select import PADS


@dataclass(frozen=True)
class PadDef:
    pad: int
    query: str | None = None  # a query, or
    pin: str | None = None    # a pinned sample: a path or a sample id


@dataclass(frozen=True)
class KitDef:
    name: str
    filter: str | None = None
    sync: bool = True
    pads: tuple[PadDef, ...] = ()
    origin: str = "config"    # config, library, or config+library

    @property
    def folder(self) -> str:
        return kit_folder(self.name)


def parse_kits(tables: Any, origin: str) -> tuple[KitDef, ...]:
    """Validate the [[kits]] array; every error names the kit and the key."""
    if not isinstance(tables, list):
        raise ConfigError(f"{origin}: kits must be an array of tables, written [[kits]]")
    kits: dict[str, KitDef] = {}
    for i, t in enumerate(tables):
        where = f"{origin}: kits[{i}]"
        if not isinstance(t, dict):
            raise ConfigError(f"{where} must be a table")
        unknown = set(t) - {"name", "filter", "sync", "pads"}
        if unknown:
            raise ConfigError(f"{where}: unknown key {sorted(unknown)[0]} (known: name, filter, sync, pads)")
        name = t.get("name")
        try:
            kit_folder(name)
        except BadName as e:
            raise ConfigError(f"{where}: {e}") from None
        where = f"{origin}: kit {name!r}"
        filt = t.get("filter")
        if filt is not None:
            _check_query(filt, f"{where}: filter")
        sync = t.get("sync", True)
        if not isinstance(sync, bool):
            raise ConfigError(f"{where}: sync must be true or false")
        pads = t.get("pads", [])
        if not isinstance(pads, list) or len(pads) > PADS:
            raise ConfigError(f"{where}: pads must be a list of at most {PADS} entries")
        defs = []
        for n, pad in enumerate(pads, start=1):
            if isinstance(pad, str):
                if pad.strip():
                    _check_query(pad, f"{where}: pad {n}")
                defs.append(PadDef(n, query=pad.strip() or None))
            elif isinstance(pad, dict) and set(pad) == {"pin"} and isinstance(pad["pin"], (str, int)):
                defs.append(PadDef(n, pin=str(pad["pin"])))
            elif isinstance(pad, dict) and set(pad) == {"query"} and isinstance(pad["query"], str):
                _check_query(pad["query"], f"{where}: pad {n}")
                defs.append(PadDef(n, query=pad["query"]))
            else:
                raise ConfigError(f"{where}: pad {n} must be a query string or {{ pin = \"PATH-or-ID\" }}")
        kits[name] = KitDef(name, filt, sync, tuple(defs))  # a later kit of the same name replaces
    folders = {}
    for kit in kits.values():
        other = folders.setdefault(kit.folder, kit.name)
        if other != kit.name:
            raise ConfigError(f"{origin}: kits {other!r} and {kit.name!r} would share the card folder {kit.folder}")
    return tuple(kits.values())


def _check_query(text: Any, where: str) -> None:
    if not isinstance(text, str):
        raise ConfigError(f"{where} must be a string")
    try:
        q.parse(text)
    except q.QueryError as e:
        raise ConfigError(f"{where}: {e}") from None


def merged(configured: tuple[KitDef, ...], stored: list[dict]) -> list[KitDef]:
    """The kits in effect: the config's, then the library's (rows of {name, filter, sync, pads:
    {pad: (query, pin)}}), a library pad replacing the config's pad of the same number."""
    kits = {k.name: k for k in configured}
    for row in stored:
        base = kits.get(row["name"])
        pads = {p.pad: p for p in (base.pads if base else ())}
        for pad, (query, pin) in row["pads"].items():
            pads[pad] = PadDef(pad, query=query, pin=pin)
        if base:
            kits[row["name"]] = replace(base, pads=tuple(pads[p] for p in sorted(pads)), origin="config+library",
                                        filter=row["filter"] if row["filter"] is not None else base.filter)
        else:
            kits[row["name"]] = KitDef(row["name"], row["filter"], row["sync"],
                                       tuple(pads[p] for p in sorted(pads)), origin="library")
    return list(kits.values())
