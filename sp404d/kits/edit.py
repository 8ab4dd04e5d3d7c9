"""Checking a kit edit from the CLI or the socket before it reaches the writer. Reads the library
(to resolve a pin to its sample); writes nothing."""

from __future__ import annotations

import os

from sp404d.card.naming import kit_folder
from sp404d.errors import Sp404dError, UsageError
from sp404d.kits import query as q
from sp404d.kits import resolve
from sp404d.kits.select import PADS
from sp404d.library import commands as c


def command(configured, args: dict) -> c.EditKit:
    """args: {"action": "new"|"set"|"pin"|"fill"|"delete", "name", "filter"?, "pad"?, "query"?, "pin"?}."""
    action, name = args.get("action"), args.get("name")
    if not isinstance(name, str):
        raise Sp404dError("a kit name is needed")
    kit_folder(name)  # refuses names that would leave IMPORT/ or show nothing
    existing = {k.name.lower(): k for k in resolve.kits(configured)}
    if action == "new":
        if name.lower() in existing:
            raise Sp404dError(f"kit {existing[name.lower()].name!r} already exists")
        clash = [k.name for k in existing.values() if k.folder == kit_folder(name)]
        if clash:
            raise Sp404dError(f"kit {name!r} would share the card folder {kit_folder(name)} with {clash[0]!r}")
        filt = args.get("filter")
        if filt:
            q.parse(filt)
        return c.EditKit(name, c.Reply(), filter=filt or None)
    kit = resolve.find(configured, name)
    if action == "delete":
        if kit.origin == "config":
            from sp404d import paths
            from sp404d.config import user_config_path

            where = user_config_path() or paths.config_file()
            raise Sp404dError(f"kit {kit.name!r} comes from the config, not from `kit new`, and stays; to keep it off "
                              f"the card, add a [[kits]] table with the lines name = \"{kit.name}\" and sync = false "
                              f"to your config file ({where}), which replaces the packaged kit with an empty one, "
                              "then restart sp404d")
        # config+library: the pads set from the CLI go, and the config's definition is what remains
        return c.EditKit(kit.name, c.Reply(), create=False, delete=True)
    if action == "fill":
        from sp404d.kits import complete

        chosen = complete.plan_fill(kit)
        return c.EditKit(kit.name, c.Reply(), create=False, pins=tuple((ch.pad, ch.row["sample_id"]) for ch in chosen),
                         report=tuple({"pad": ch.pad, "sample_id": ch.row["sample_id"], "path": ch.row["path"],
                                       "category": ch.row["category"], "why": ch.why} for ch in chosen))
    pad = args.get("pad")
    if not isinstance(pad, int) or not 1 <= pad <= PADS:
        raise UsageError(f"pad must be a number from 1 to {PADS} (got {pad!r})")
    if action == "set":
        text = (args.get("query") or "").strip()
        if text:
            q.parse(text)
        return c.EditKit(kit.name, c.Reply(), pad=pad, query=text or None)
    if action == "pin":
        pin = str(args.get("pin") or "")
        row = resolve.sample_for(pin) if pin else None
        if row is None and pin and not pin.isdigit() and os.sep not in pin:
            from sp404d.kits.like import reference

            row = {"sample_id": reference(pin).sample_id}  # a file name one sound has (else one line saying why)
        if row is None:
            raise Sp404dError(f"{pin!r} is not a sample id, a path or a file name the library knows (import it first)")
        return c.EditKit(kit.name, c.Reply(), pad=pad, sample_id=row["sample_id"])
    raise Sp404dError(f"unknown kit action {action!r}")
