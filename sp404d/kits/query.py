"""The query language of `sp404d search` and of kit slots, parsed by a pure function.

    kick                     a free word: in the file name or path, or the category
    category:kick            also category:hat (hat-closed and hat-open), category:kick,snare
    kind:loop                loop or one-shot
    bpm:85..95  bpm:85-95  bpm:90  bpm:<100  bpm:>=120  bpm:..100   (a loop's bpm or its bpm_alt)
    key:Am  key:A scale:minor  key:~Am (compatible: same key, relative, a fifth either way)
    dur:<1.5  dur:0.2..1  dur:>=500ms
    path:vinyl  name:909     substrings, case-insensitive
    added:-7d  added:-12h    added within the last 7 days / 12 hours (m, h, d, w)
    source:MYCARD            files that came from a card or source of that label
    like:REF                 rank by how alike the sounds are to REF (a sample id, a path, or a file
                             name, with or without extension, that only one sound has); never REF
                             itself or its copies; one like: per query, and no sort: with it
    -word  -category:fx      negation
    sort:bpm  sort:-added    sort (several allowed; the first wins ties)

A parse error raises QueryError naming the offending token.
"""

from __future__ import annotations

import re
import shlex
import time
from dataclasses import dataclass

from sp404d.analysis.tags import CATEGORIES, parse_key
from sp404d.errors import UsageError

FIELDS = ("category", "kind", "bpm", "key", "scale", "dur", "path", "name", "added", "source", "like")
SORTS = {"bpm": "bpm", "added": "created_at", "dur": "duration", "duration": "duration", "name": "path",
         "path": "path", "key": "key", "category": "category", "loudness": "loudness_lufs"}
_UNITS = {"m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


class QueryError(UsageError):
    pass


@dataclass(frozen=True)
class Clause:
    field: str        # one of FIELDS, or "word"
    value: object     # per field: str, (low, high) range, set of categories, set of (pc, scale|None)
    negate: bool = False


@dataclass(frozen=True)
class Query:
    clauses: tuple[Clause, ...] = ()
    sort: tuple[tuple[str, bool], ...] = ()  # (column, descending)
    text: str = ""

    @property
    def like(self) -> str | None:
        """The REF of the query's like: term (search.sounds refuses two), or None."""
        return next((c.value for c in self.clauses if c.field == "like"), None)

    @property
    def ordered(self) -> bool:
        """The query gives its own order (sort:, or like:'s similarity): a kit slot takes it as it is."""
        return bool(self.sort) or self.like is not None

    def without_like(self) -> "Query":
        return Query(tuple(c for c in self.clauses if c.field != "like"), self.sort, self.text)

    def check_like(self) -> None:
        """like: orders the results itself: one per query, not negated, no sort: beside it. (Here
        and not only in parse: a kit's filter and a slot's query are joined after parsing.)"""
        likes = [c for c in self.clauses if c.field == "like"]
        if len(likes) > 1:
            raise QueryError(f"one like: per query, not {len(likes)} (in {self.text!r})")
        if likes and likes[0].negate:
            raise QueryError(f"-like:{likes[0].value} cannot be negated: like: ranks, it does not filter")
        if likes and self.sort:
            raise QueryError(f"like: orders the results by similarity; drop the sort: from {self.text!r}")

    def __and__(self, other: "Query") -> "Query":
        """A kit's filter applied to a slot's query."""
        return Query(self.clauses + other.clauses, other.sort or self.sort, f"{self.text} {other.text}".strip())


def parse(text: str, now: float | None = None) -> Query:
    try:
        tokens = shlex.split(text)
    except ValueError as e:
        raise QueryError(f"cannot read the query {text!r}: {e}") from None
    clauses, sort = [], []
    for token in tokens:
        negate = token.startswith("-") and len(token) > 1
        body = token[1:] if negate else token
        name, sep, value = body.partition(":")
        if not sep:
            clauses.append(Clause("word", body.lower(), negate))
            continue
        name = name.lower()
        if name == "sort":
            column = SORTS.get(value.lstrip("-").lower())
            if column is None or negate:
                raise QueryError(f"bad sort in {token!r}: sort by one of {', '.join(sorted(SORTS))}")
            sort.append((column, value.startswith("-")))
            continue
        if name not in FIELDS:
            raise QueryError(f"unknown field {name!r} in {token!r} (fields: {', '.join(FIELDS)}, sort)")
        if not value:
            raise QueryError(f"{token!r} has no value after the colon")
        clauses.append(Clause(name, _value(name, value, token, now), negate))
    query = Query(tuple(clauses), tuple(sort), text)
    query.check_like()
    return query


def _value(name: str, value: str, token: str, now: float | None) -> object:
    if name == "category":
        wanted = set()
        for part in value.lower().split(","):
            found = {c for c in CATEGORIES if c == part or c.startswith(part + "-") or c.split("/")[0] == part}
            if not found:
                raise QueryError(f"unknown category {part!r} in {token!r} (categories: {', '.join(CATEGORIES)})")
            wanted |= found
        return frozenset(wanted)
    if name == "kind":
        kind = {"loop": "loop", "loops": "loop", "one-shot": "one-shot", "oneshot": "one-shot",
                "one": "one-shot", "shot": "one-shot"}.get(value.lower())
        if kind is None:
            raise QueryError(f"bad kind in {token!r}: loop or one-shot")
        return kind
    if name == "scale":
        scale = {"minor": "minor", "min": "minor", "m": "minor", "major": "major", "maj": "major"}.get(value.lower())
        if scale is None:
            raise QueryError(f"bad scale in {token!r}: major or minor")
        return scale
    if name == "key":
        return _keys(value, token)
    if name == "bpm":
        return _range(value, token, float, exact_slack=0.5)
    if name == "dur":
        return _range(value, token, _seconds, exact_slack=0.005)
    if name == "added":
        m = re.fullmatch(r"-(\d+(?:\.\d+)?)([mhdw])", value)
        if not m:
            raise QueryError(f"bad age in {token!r}: like added:-7d (m, h, d or w)")
        return ((now or time.time()) - float(m.group(1)) * _UNITS[m.group(2)], float("inf"))
    if name == "like":
        return value  # a path or name keeps its case
    return value.lower()  # path, name, source


def _seconds(text: str) -> float:
    return float(text[:-2]) / 1000 if text.endswith("ms") else float(text.rstrip("s"))


_DASH_RANGE = re.compile(r"(\d[\d.]*(?:ms|s)?)[-\u2013](\d[\d.]*(?:ms|s)?)")  # no BPM or duration is negative


def _range(value: str, token: str, convert, exact_slack: float) -> tuple[float, float]:
    """85..95 (or 85-95), ..100, 80.., <100, <=100, >80, >=80, or one value (with a small slack)."""
    try:
        for op in ("<=", ">=", "<", ">"):
            if value.startswith(op):
                x = convert(value[len(op):])
                return {"<=": (float("-inf"), x), "<": (float("-inf"), x - 1e-9),
                        ">=": (x, float("inf")), ">": (x + 1e-9, float("inf"))}[op]
        dash = _DASH_RANGE.fullmatch(value)  # 85-95 or 85–95, as people write ranges
        if ".." in value or dash:
            low, high = dash.groups() if dash else value.split("..", 1)
            lo = convert(low) if low else float("-inf")
            hi = convert(high) if high else float("inf")
            if lo > hi:
                raise QueryError(f"empty range in {token!r}: the low end is above the high end")
            return lo, hi
        x = convert(value)
        return x - exact_slack, x + exact_slack
    except ValueError:
        raise QueryError(f"bad number or range in {token!r}: like 85..95, <1.5 or 90") from None


def _keys(value: str, token: str) -> frozenset:
    compatible = value.startswith("~")
    text = value.lstrip("~")
    parsed = parse_key(text)
    if parsed is None:
        raise QueryError(f"bad key in {token!r}: like Am, F#min, C, Bbmaj (and ~Am for compatible keys)")
    has_mode = re.search(r"(m|min|minor|maj|major|M)$", text) is not None and not re.fullmatch(r"[A-Ga-g]b?", text)
    pc, scale = parsed  # a key without a mode is major for ~, and either scale otherwise
    if not has_mode and not compatible:
        return frozenset({(pc, None)})
    keys = {(pc, scale)}
    if compatible:  # the Camelot wheel's neighbours: relative major/minor, and a fifth up and down
        relative = ((pc + 3) % 12, "major") if scale == "minor" else ((pc - 3) % 12, "minor")
        keys |= {relative, ((pc + 7) % 12, scale), ((pc + 5) % 12, scale)}
    return frozenset(keys)
