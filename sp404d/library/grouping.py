"""Which sound each sample belongs to: groups that depend on the set of files, not on their order.

A group is shown by its canonical member, the best source. Every other member must be the same
recording as that canonical member itself (not merely as some member that resembles it: "alike"
does not chain), so the rule is greedy clustering in one fixed total order, best source first
(same.order_key: quality, then the waveform hash):

    a sample is canonical when no better canonical is the same recording as it;
    otherwise it belongs to the best canonical that is.

That is a function of the set of samples and of the pairwise verdicts, so any arrival order (one
import or several) gives the same groups and the same canonical members. Kept up to date as
samples arrive: a sample that finds a better canonical joins it and changes nothing else; one that
becomes canonical takes over every worse sample that is the same recording as it and whose
canonical is worse than it (a canonical so taken over hands its own members back, and each is
placed again, best first). A sample that leaves (it is described again by a newer analyser) hands
its members back the same way.

Pure: the caller says which samples might be the same recording as a sample (`candidates`: the
near-duplicate index's) and which are (`judge`), and applies the changes. Judging is the costly
part, so it is asked only where the answer can change a placement: the better canonical members
first, best first, stopping at the first that is the same recording.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Generic, TypeVar

V = TypeVar("V")  # the verdict the caller attaches to a member's link with its canonical

Candidates = Callable[[int], list[int]]          # samples that might be the same recording as this one
Judge = Callable[[int, int], "V | None"]         # (sample, other) -> a verdict when they are the same


@dataclass(frozen=True)
class Placement(Generic[V]):
    sample: int
    canonical: int        # the sample itself when it is canonical
    verdict: V | None     # its link to the canonical (None for a canonical)


class Grouping(Generic[V]):
    def __init__(self):
        self.key: dict[int, tuple] = {}         # sample -> order key (larger is better)
        self.canonical_of: dict[int, int] = {}  # sample -> its group's canonical sample
        self.members: dict[int, set[int]] = {}  # canonical -> the other members

    def __contains__(self, sample: int) -> bool:
        return sample in self.key

    def __len__(self) -> int:
        return len(self.key)

    def load(self, sample: int, key: tuple, canonical: int) -> None:
        """Restore a placement made earlier (the library's, at start)."""
        self.key[sample] = key
        self.canonical_of[sample] = canonical
        if canonical != sample:
            self.members.setdefault(canonical, set()).add(sample)

    def is_canonical(self, sample: int) -> bool:
        return self.canonical_of.get(sample) == sample

    def add(self, sample: int, key: tuple, candidates: Candidates, judge: Judge) -> list[Placement]:
        """Place a new sample; returns every sample whose placement changed (the new one first)."""
        self.key[sample] = key
        changes: dict[int, Placement] = {}
        self._place([sample], candidates, judge, changes)
        return list(changes.values())

    def remove(self, sample: int, candidates: Candidates, judge: Judge) -> list[Placement]:
        """Take a sample out (its members are placed again); returns the placements that changed."""
        changes: dict[int, Placement] = {}
        canonical = self.canonical_of.pop(sample, None)
        self.key.pop(sample, None)
        if canonical is None:
            return []
        if canonical != sample:
            self._leave(canonical, sample)
            return []
        orphans = sorted(self.members.pop(sample, set()), key=self.key.__getitem__, reverse=True)
        for o in orphans:
            del self.canonical_of[o]
        self._place(orphans, candidates, judge, changes)
        return list(changes.values())

    # -- the rule --
    def _place(self, queue: list[int], candidates: Candidates, judge: Judge, changes: dict[int, Placement]) -> None:
        """Place each sample of `queue` (unplaced), best first; a takeover adds the members it
        frees to the queue."""
        queue = sorted(queue, key=self.key.__getitem__, reverse=True)
        while queue:
            z = queue.pop(0)
            freed = self._place_one(z, candidates, judge, changes)
            if freed:
                queue = sorted(set(queue) | set(freed), key=self.key.__getitem__, reverse=True)

    def _place_one(self, z: int, candidates: Candidates, judge: Judge, changes: dict[int, Placement]) -> list[int]:
        kz = self.key[z]
        near = [y for y in dict.fromkeys(candidates(z)) if y != z and y in self.canonical_of]
        better = sorted((y for y in near if self.canonical_of[y] == y and self.key[y] > kz),
                        key=self.key.__getitem__, reverse=True)
        for y in better:  # the best canonical that is the same recording takes it
            verdict = judge(z, y)
            if verdict is not None:
                self._set(z, y, verdict, changes)
                return []
        self._set(z, z, None, changes)
        freed: list[int] = []
        for y in near:
            current = self.canonical_of.get(y)
            if self.key[y] > kz or current is None:  # better, or handed back just now (placed later)
                continue
            if current != y and self.key[current] > kz:  # it has a better canonical than z
                continue
            verdict = judge(z, y)
            if verdict is None:
                continue
            if current == y:  # a worse canonical: it joins z, and hands back its members
                for m in self.members.pop(y, set()):
                    del self.canonical_of[m]
                    freed.append(m)
            self._set(y, z, verdict, changes)
        return freed

    def _set(self, sample: int, canonical: int, verdict, changes: dict[int, Placement]) -> None:
        old = self.canonical_of.get(sample)
        if old is not None and old != sample:
            self._leave(old, sample)
        self.canonical_of[sample] = canonical
        if canonical != sample:
            self.members.setdefault(canonical, set()).add(sample)
        changes[sample] = Placement(sample, canonical, verdict)

    def _leave(self, canonical: int, member: int) -> None:
        members = self.members.get(canonical)
        if members is not None:
            members.discard(member)
            if not members:
                del self.members[canonical]
