"""What a sync must do, decided by a pure function from three views: what the kits want on the
card, what the manifest says sp404d wrote, and what is on the card now (size and content hash).

Ownership: a file is ours only while its content hash is one the manifest recorded for that path
(the hash we wrote, or, while a write was pending, the one it replaced). Anything else at a path is
the user's: never overwritten, never removed. Paths compare case-insensitively, as FAT does.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Want:
    rel: str          # "IMPORT/DRUMS/01_Kick.WAV"
    sample_id: int
    pcm_hash: str     # the sound; a new analysis of the same sound keeps the file
    source: str       # the library file to render from
    kit: str
    pad: int


@dataclass
class Plan:
    write: list[Want] = field(default_factory=list)
    move: list[tuple[str, Want]] = field(default_factory=list)  # (rel now, want): a sound that changed pads
    keep: list[str] = field(default_factory=list)
    remove: list[str] = field(default_factory=list)     # ours, no longer in any kit
    forget: list[str] = field(default_factory=list)     # in the manifest, but gone or changed by the user
    blocked: list[str] = field(default_factory=list)    # a file of the user's sits where a pad should go
    changed: list[str] = field(default_factory=list)    # of those, files sp404d wrote that the user changed

    @property
    def changes(self) -> int:
        return len(self.write) + len(self.move) + len(self.remove)


def ours(entry: dict | None, on_card: tuple[int, str] | None) -> bool:
    if entry is None or on_card is None:
        return False
    return on_card[1] in {entry.get("hash"), entry.get("previous_hash")} - {None}


def plan(wants: list[Want], manifest: dict[str, dict], on_card: dict[str, tuple[int, str] | None]) -> Plan:
    """manifest: rel -> {"sample", "pcm", "size", "hash", ("previous_hash")}; on_card: rel ->
    (size, hash) or None, for every path in either (keys in any case)."""
    m = {k.upper(): (k, v) for k, v in manifest.items()}
    card = {k.upper(): v for k, v in on_card.items()}
    p = Plan()
    wanted = set()
    for w in wants:
        key = w.rel.upper()
        wanted.add(key)
        entry = m.get(key, (None, None))[1]
        present = card.get(key)
        if present is None:
            p.write.append(w)
        elif not ours(entry, present):
            p.blocked.append(w.rel)
            if entry is not None:  # sp404d wrote there, and it is not what sp404d wrote any more
                p.changed.append(w.rel)
        elif (entry.get("pcm") == w.pcm_hash and present == (entry.get("size"), entry.get("hash"))
              and m[key][0] == w.rel and not entry.get("pending")):
            p.keep.append(w.rel)
        else:
            p.write.append(w)
    for key, (rel, entry) in sorted(m.items()):
        if key in wanted:
            continue
        present = card.get(key)
        (p.remove if ours(entry, present) else p.forget).append(rel)
    _moves(p, m, card)
    return p


def _moves(p: Plan, m: dict, card: dict) -> None:
    """A sound that only changed pads (a rule kit's order shifted by one new sample) is renamed on
    the card, not rendered and written again: pair each write to a free path with a file to be
    removed that holds exactly what we wrote of that sound."""
    spare: dict[str, list[str]] = {}
    for rel in p.remove:
        entry = m[rel.upper()][1]
        if not entry.get("pending") and card.get(rel.upper()) == (entry.get("size"), entry.get("hash")):
            spare.setdefault(entry.get("pcm"), []).append(rel)
    for w in list(p.write):
        if card.get(w.rel.upper()) is None and spare.get(w.pcm_hash):
            old = spare[w.pcm_hash].pop(0)
            p.write.remove(w)
            p.remove.remove(old)
            p.move.append((old, w))
