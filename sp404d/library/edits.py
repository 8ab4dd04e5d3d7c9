"""The writer's plain edits: kits, failures, moves, missing files, sources. Each takes its command
and the batch's time, changes rows through peewee, and returns the effects the daemon acts on
after the commit. Called only on the writer thread (library/writer.py), inside its transaction."""

from __future__ import annotations

from sp404d.library import commands as c
from sp404d.library.models import Failure, Kit, KitPad, Location, Source, path_under

Effect = tuple


def edit_kit(cmd: c.EditKit, now: float) -> list[Effect]:
    kit = Kit.get_or_none(Kit.name == cmd.name)
    if cmd.delete:
        if kit is not None:
            KitPad.delete().where(KitPad.kit == kit).execute()
            kit.delete_instance()
        return [("kit", cmd.name)]  # the card's sync follows: files written for it go, the user's stay
    if kit is None and not cmd.create and not cmd.pins:
        return []  # a fill that found nothing to do: a config-only kit stays the config's
    if kit is None:
        kit = Kit.create(name=cmd.name, filter=cmd.filter, created_at=now)
    elif cmd.filter is not None:
        Kit.update(filter=cmd.filter).where(Kit.id == kit.id).execute()
    for pad, query, sample_id in ([(cmd.pad, cmd.query, cmd.sample_id)] if cmd.pad is not None else []) + [
            (pad, None, sample_id) for pad, sample_id in cmd.pins]:
        KitPad.delete().where(KitPad.kit == kit, KitPad.pad == pad).execute()
        KitPad.create(kit=kit, pad=pad, query=query, sample=sample_id)
    cmd.reply.value = kit.id
    return [("kit", cmd.name)]


def record_failure(cmd: c.RecordFailure, now: float) -> list[Effect]:
    f = cmd.file
    updated = (Failure.update(size=f.size, mtime_ns=f.mtime_ns, category=cmd.category, message=cmd.message,
                              attempts=Failure.attempts + 1, last_at=now, analysis_version=cmd.analysis_version)
               .where(Failure.path == f.path).execute())
    if not updated:
        Failure.create(path=f.path, size=f.size, mtime_ns=f.mtime_ns, category=cmd.category,
                       message=cmd.message, first_at=now, last_at=now, analysis_version=cmd.analysis_version)
    Location.update(state="failed").where(Location.path == f.path).execute()
    return [("failed", f.path, cmd.category, cmd.job)]


def move(cmd: c.MoveLocation, now: float) -> list[Effect]:
    moving = Location.get_or_none(Location.path == cmd.src)
    if moving is None:
        if Location.select().where(Location.path == cmd.dest).exists():
            return []  # already moved, e.g. with its folder
        return [("retry", cmd.dest, None)]  # we never knew it: analyse it as new
    Location.delete().where(Location.path == cmd.dest).execute()  # renamed over another file
    Location.update(path=cmd.dest, state="present", last_seen=now).where(Location.id == moving.id).execute()
    return [("moved", cmd.dest)]


def move_tree(cmd: c.MoveTree, now: float) -> list[Effect]:
    src = cmd.src_dir.rstrip("/") + "/"
    dest = cmd.dest_dir.rstrip("/") + "/"
    moved = 0
    for loc in list(Location.select(Location.id, Location.path).where(path_under(cmd.src_dir))):
        new_path = dest + loc.path[len(src):]
        Location.delete().where(Location.path == new_path).execute()
        Location.update(path=new_path).where(Location.id == loc.id).execute()
        moved += 1
    return [("moved", cmd.dest_dir)] if moved else []


def mark_missing(cmd: c.MarkMissing, now: float) -> list[Effect]:
    n = 0
    present = Location.state == "present"
    for i in range(0, len(cmd.paths), 500):
        n += Location.update(state="missing").where(present, Location.path.in_(cmd.paths[i:i + 500])).execute()
        Failure.delete().where(Failure.path.in_(cmd.paths[i:i + 500])).execute()
    if cmd.under:
        n += Location.update(state="missing").where(present, path_under(cmd.under)).execute()
        Failure.delete().where(path_under(cmd.under, Failure.path)).execute()
    return [("missing", n)] if n else []


def register_source(cmd: c.RegisterSource, now: float) -> list[Effect]:
    Source.insert(label=cmd.label, root=cmd.root, kind=cmd.kind, last_seen=now).on_conflict(
        conflict_target=[Source.label], update={Source.root: cmd.root, Source.last_seen: now}).execute()
    return []


BY_COMMAND = {c.EditKit: edit_kit, c.RecordFailure: record_failure, c.MoveLocation: move, c.MoveTree: move_tree,
              c.MarkMissing: mark_missing, c.RegisterSource: register_source}
