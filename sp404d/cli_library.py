"""CLI commands that read the library (search, kits, dupes, export) or edit kits.

They read on their own connection, so they work with or without a daemon. A kit edit goes to the
daemon when it runs (it is the library's only writer); otherwise this process takes the library
lock and writes through its own writer thread.
"""

from __future__ import annotations

import csv
import json
import os
import sys

from sp404d.errors import Sp404dError, UsageError
from sp404d.strictjson import dumps


def library(cfg):
    """The library, opened for reading (the daemon, if running, stays its only writer)."""
    from sp404d.library.schema import open_library

    if not cfg.library_path.exists():
        raise Sp404dError(f"no library yet at {cfg.library_path}: run `sp404d run` or `sp404d import PATH` first")
    return open_library(cfg.library_path, migrate_schema=False)


def _table(headers: list[str], rows: list[list], right: set[int] = frozenset()) -> None:
    """A table on a terminal (rich), plain tab-separated lines otherwise."""
    if sys.stdout.isatty():
        from rich.console import Console
        from rich.table import Table

        t = Table(*headers, box=None, header_style="bold")
        for i, col in enumerate(t.columns):
            col.justify = "right" if i in right else "left"
            col.overflow = "fold"  # a narrow terminal wraps a path; an ellipsis would hide its end
        for row in rows:
            t.add_row(*("" if v is None else str(v) for v in row))
        Console().print(t)
    else:
        print("\t".join(headers))
        for row in rows:
            print("\t".join("" if v is None else str(v) for v in row))


def _key(row: dict) -> str | None:
    return f"{row['key']}{'m' if row['scale'] == 'minor' else ''}" if row.get("key") else None


def _search_cells(row: dict) -> list:
    distance = [f"{row['distance']:.3f}"] if "distance" in row else []
    return [os.path.basename(row["path"]), *distance, row["category"], f"{row['bpm']:.1f}" if row["bpm"] else None,
            _key(row), f"{row['duration']:.2f}", row["path"]]


def cmd_search(cfg, args) -> int:
    from sp404d.kits import query, search

    parsed = query.parse(" ".join(args.query))
    sys.stdout.reconfigure(errors="surrogateescape")
    with library(cfg).connection_context():
        rows = search.sounds(parsed, limit=args.limit)
    _sounds(rows, args.json, similar=parsed.like is not None)
    return 0


def _sounds(rows: list[dict], json_out: bool, similar: bool) -> None:
    if json_out:
        for row in rows:
            print(dumps(row))
        return
    distance = ["distance"] if similar else []
    _table(["name", *distance, "category", "bpm", "key", "dur", "path"], [_search_cells(r) for r in rows],
           right={1, 3, 5} if similar else {2, 4})


def cmd_similar(cfg, args) -> int:
    """Through the daemon when it runs (its index is in memory and current), else from the library."""
    from sp404d.control.client import Client, daemon_running
    from sp404d.strictjson import restore

    sys.stdout.reconfigure(errors="surrogateescape")
    if daemon_running(cfg.socket_path):
        with Client(cfg.socket_path, timeout=60) as client:
            found = restore(client.request("similar", ref=args.ref, limit=args.limit, aspect=args.aspect,
                                           any_kind=args.any_kind))
    else:
        from sp404d.kits.like import similar

        with library(cfg).connection_context():
            found = similar(args.ref, args.limit, args.aspect, any_kind=args.any_kind)
    if not args.json:
        ref = found["reference"]
        among = f", {found['kind']}s only" if found.get("kind") else ""
        print(f"like {ref['path'] or 'sample ' + str(ref['sample_id'])} ({args.aspect}{among}), nearest first:")
    _sounds(found["sounds"], args.json, similar=True)
    return 0


def cmd_kits(cfg, args) -> int:
    from sp404d.kits import resolve

    out = []
    with library(cfg).connection_context():
        for kit in resolve.kits(cfg.kits):
            pads = resolve.pads(kit)
            out.append({"name": kit.name, "folder": kit.folder, "sync": kit.sync, "origin": kit.origin,
                        "filter": kit.filter, "filled": sum(p.row is not None for p in pads)})
    if args.json:
        for k in out:
            print(dumps(k))
    else:
        _table(["kit", "card folder", "pads", "sync", "defined in"],
               [[k["name"], f"IMPORT/{k['folder']}", f"{k['filled']}/16", "yes" if k["sync"] else "no", k["origin"]]
                for k in out])
    return 0


def cmd_kit(cfg, args) -> int:
    if args.action == "show":
        return _kit_show(cfg, args)
    if args.action == "fill":
        return _kit_fill(cfg, args)
    if args.action == "alt":
        return _kit_alt(cfg, args)
    if args.action == "delete":
        return _kit_delete(cfg, args)
    request = {"action": args.action, "name": args.name}
    if args.action == "new":
        request["filter"] = args.filter
    else:
        request["pad"] = args.pad
        value = args.value
        if args.action == "pin" and os.path.exists(value):
            value = os.path.abspath(value)  # a path relative to here, not to the daemon's folder
        request["query" if args.action == "set" else "pin"] = value
    edit(cfg, request)
    done = "created" if args.action == "new" else f"pad {args.pad} " + ("set" if args.action == "set" else "pinned")
    print(f"kit {args.name}: {done}")
    return 0


def _kit_delete(cfg, args) -> int:
    from sp404d.kits import resolve

    with library(cfg).connection_context():
        origin = resolve.find(cfg.kits, args.name).origin
    edit(cfg, {"action": "delete", "name": args.name})
    if origin == "config+library":
        print(f"kit {args.name}: the pads set here are dropped; the kit stays as the config file defines it")
    else:
        print(f"kit {args.name}: deleted (its files leave the card at the next sync)")
    return 0


def edit(cfg, request: dict) -> list[dict]:
    """Apply a kit edit through the library's one writer: the daemon's, or our own. Returns what
    the edit chose (`kit fill`'s pads)."""
    from sp404d.control.client import Client, daemon_running

    if daemon_running(cfg.socket_path):
        with Client(cfg.socket_path) as client:
            return client.request("kit-edit", **request).get("filled", [])
    from sp404d.kits.edit import command
    from sp404d.library.schema import open_library
    from sp404d.library.writer import Writer
    from sp404d.lock import held_here

    with held_here(cfg.lock_path, cfg.socket_path, "kit edit"):
        db = open_library(cfg.library_path)
        with db.connection_context():
            cmd = command(cfg.kits, request)
        writer = Writer(db)
        writer.start()
        writer.put(cmd)
        cmd.reply.wait(30)
        writer.stop(timeout=30)
    return list(cmd.report)


def _kit_fill(cfg, args) -> int:
    filled = edit(cfg, {"action": "fill", "name": args.name})
    if args.json:
        print(dumps({"kit": args.name, "filled": filled}))
        return 0
    if not filled:
        print(f"kit {args.name}: nothing to fill: every pad left without a query or a pin already has a sound, "
              "or no sound left in the library fits one")
        return 0
    _table(["pad", "category", "file", "why"], [[f["pad"], f["category"], f["path"], f["why"]] for f in filled],
           right={0})
    print(f"kit {args.name}: {len(filled)} pad(s) filled and pinned")
    return 0


def _kit_alt(cfg, args) -> int:
    from sp404d.kits import complete, resolve

    with library(cfg).connection_context():
        kit = resolve.find(cfg.kits, args.name)
        current, alts = complete.alternatives(kit, args.pad, args.limit)
    if args.pick is not None:
        if not 1 <= args.pick <= len(alts):
            raise UsageError(f"--pick must be one of 1..{len(alts)} (the alternatives listed)" if alts
                              else f"pad {args.pad} has no alternatives to pick from")
        row = alts[args.pick - 1][0]
        edit(cfg, {"action": "pin", "name": kit.name, "pad": args.pad, "pin": str(row["sample_id"])})
        print(f"kit {kit.name}: pad {args.pad} pinned to {row['path']}")
        query = next((p.query for p in kit.pads if p.pad == args.pad and p.query), None)
        if query:
            print(f"(the pin replaces the pad's query {query!r}; `sp404d kit set {kit.name} {args.pad} QUERY` gives it back)")
        return 0
    if args.json:
        print(dumps({"kit": kit.name, "pad": args.pad, "current": current,
                     "alternatives": [{"n": i, "distance": round(d, 4), **r} for i, (r, d) in enumerate(alts, 1)]}))
        return 0
    print(f"kit {kit.name} pad {args.pad}: {current['path']} ({current['category']})")
    _table(["n", "distance", "category", "file"], [[i, f"{d:.3f}", r["category"], r["path"]]
                                                   for i, (r, d) in enumerate(alts, 1)], right={0, 1})
    if alts:
        print(f"pin one with: sp404d kit alt {kit.name} {args.pad} --pick N")
    return 0


def _kit_show(cfg, args) -> int:
    from sp404d.card.naming import pad_file_names
    from sp404d.kits import resolve

    with library(cfg).connection_context():
        kit = resolve.find(cfg.kits, args.name)
        pads = resolve.pads(kit)
    names = pad_file_names({p.pad: os.path.splitext(os.path.basename(p.row["path"]))[0] for p in pads if p.row})
    if args.json:
        print(dumps({"name": kit.name, "folder": kit.folder, "filter": kit.filter, "sync": kit.sync,
                          "pads": [{"pad": p.pad, "why": p.why, "card_name": names.get(p.pad), **(p.row or {})}
                                   for p in pads]}))
        return 0
    print(f"kit {kit.name} -> IMPORT/{kit.folder}/" + (f"  (filter: {kit.filter})" if kit.filter else ""))
    _table(["pad", "card name", "category", "bpm", "key", "source file", "chosen by"],
           [[p.pad, names.get(p.pad, "(empty)"), p.row and p.row["category"],
             p.row and p.row["bpm"] and f"{p.row['bpm']:.1f}", p.row and _key(p.row), p.row and p.row["path"], p.why]
            for p in pads], right={0})
    empty = [p.pad for p in pads if p.row is None]
    if empty:
        print(f"{len(empty)} empty pad(s): {', '.join(map(str, empty))}")
    return 0


def cmd_dupes(cfg, args) -> int:
    from sp404d.library import queries
    from sp404d.library.schema import SCHEMA_VERSION, schema_version

    def near(member: dict) -> str:
        wave, fp = member.get("correlation"), member.get("distance")
        return f"near wave {'?' if wave is None else f'{wave:.2f}'}  fp {'?' if fp is None else f'{fp:.2f}'}"

    sys.stdout.reconfigure(errors="surrogateescape")
    groups = files = freeable = 0
    db = library(cfg)
    with db.connection_context():
        found = schema_version(db)
        if found < SCHEMA_VERSION:  # its groups are an older release's: they are made again on upgrade
            raise Sp404dError(f"the library has schema version {found}, from an older sp404d: start the daemon or run "
                              f"`sp404d import --reanalyse` once to upgrade it and group its sounds again")
        for g in queries.duplicate_groups():
            groups += 1
            files += len(g["members"])
            freeable += g["freeable_bytes"]
            if args.json:
                print(dumps(g))
                continue
            if groups == 1:
                print("Each group is one sound; the first file is its canonical one (the file kits use). The others:\n"
                      "  exact-bytes  the same bytes;  exact-pcm  the same decoded waveform in another container;\n"
                      "  near wave W  fp F  the same recording re-encoded, resampled or re-gained: W is the correlation\n"
                      "               of the two waveforms (1.00 = identical up to gain), F the share of fingerprint\n"
                      "               bits that differ (0.00 = none, about 0.50 = unrelated sounds).\n")
            c = g["canonical"]
            print(f"group {g['group']}: {c['path']}  [{c['container']}, {c['quality']}]")
            for m in g["members"]:
                how = near(m) if m["match"] == "near" else m["match"]
                print(f"  {how:<24} {m['path']}  [{m['container']}, {m['quality']}]")
    if not args.json:
        sounds = "1 sound has" if groups == 1 else f"{groups} sounds have"
        extra = "1 extra file" if files == 1 else f"{files} extra files"
        print(f"{sounds} duplicates: {extra}, {freeable / 1e6:.1f} MB that could be freed "
              f"(sp404d never deletes; the canonical file of each group is the one kits use)")
    return 0


def cmd_export(cfg, args) -> int:
    from sp404d.library import queries

    db = library(cfg)
    out = open(args.output, "w", newline="", encoding="utf-8", errors="surrogateescape") if args.output else sys.stdout
    if out is sys.stdout:
        sys.stdout.reconfigure(errors="surrogateescape")
    try:
        with db.connection_context():
            if args.format == "csv":
                writer = csv.DictWriter(out, fieldnames=queries.export_fields())
                writer.writeheader()
                for row in queries.export_rows():
                    writer.writerow({k: json.dumps(v) if isinstance(v, list) else v for k, v in row.items()})
            else:
                for row in queries.export_rows():
                    out.write(dumps(row) + "\n")
    finally:
        if out is not sys.stdout:
            out.close()
    return 0


def cmd_sync(cfg, args) -> int:
    """Write the kits to a card now: through the daemon when it runs (it owns card writes), else here."""
    from sp404d.control.client import Client, daemon_running

    card = os.path.abspath(args.card) if args.card else None
    if daemon_running(cfg.socket_path):
        with Client(cfg.socket_path, timeout=900) as client:
            reports = client.request("sync", card=card, dry_run=args.dry_run)["reports"]
    else:
        reports = _sync_here(cfg, card, args.dry_run)
    failed = False
    for r in reports:
        failed |= bool(r.get("error"))
        if args.json:
            print(dumps(r))
        else:
            print(format_sync(r, args.dry_run))
    return 1 if failed else 0


def _sync_here(cfg, card: str | None, dry_run: bool) -> list[dict]:
    from sp404d.card import detect
    from sp404d.card.sync import Card, CardError
    from sp404d.kits import resolve

    targets = detect.sync_targets(
        card, lambda: [str(v.path) for v in detect.mounted(cfg.mount_roots, cfg.card_labels) if v.role == "card"],
        cfg.mount_roots)
    with library(cfg).connection_context():
        kits = resolve.all_pads(cfg.kits)
    reports = []
    for target in targets:
        try:
            reports.append(Card(target).sync(kits, dry_run=dry_run).as_dict())
        except CardError as e:
            raise Sp404dError(str(e)) from None
    return reports


def format_sync(r: dict, dry_run: bool) -> str:
    if "plan" not in r:
        return f"card {r['card']}: {r['error']}"
    p = r["plan"]
    lines = []
    if dry_run:
        lines.append(f"card {r['card']} (dry run): would write {len(p['write'])}, move {len(p['move'])}, "
                     f"remove {len(p['remove'])}, keep {len(p['keep'])}")
        lines += ([f"  write  {x}" for x in p["write"]] + [f"  move   {a} -> {b}" for a, b in p["move"]]
                  + [f"  remove {x}" for x in p["remove"]])
    else:
        lines.append(f"card {r['card']}: wrote {r['written']} ({r['bytes_written'] / 1e6:.1f} MB), "
                     f"moved {r.get('moved', 0)}, removed {r['removed']}, kept {r['kept']}")
    changed = set(r.get("changed", ()))
    for rel in r["blocked"]:
        lines.append(f"  {rel}: " + ("changed on the card since sp404d wrote it: left alone" if rel in changed
                                     else "left alone (not written by sp404d)"))
    for kit, pads in r["empty_pads"].items():
        lines.append(f"  kit {kit}: empty pad(s) {', '.join(map(str, pads))}")
    for rel, why in r.get("unreadable", {}).items():
        lines.append(f"  {rel}: not written, its source cannot be read: {why}")
    if r.get("error"):
        lines.append(f"  stopped: {r['error']}")
    return "\n".join(lines)
