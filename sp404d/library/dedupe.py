"""Dedupe decisions, as pure functions. The writer calls them serially, so two copies analysed at
the same moment still end up as one sample (or one group) with two locations."""

from __future__ import annotations

from dataclasses import dataclass

EXACT_MATCHES = ("exact-bytes", "exact-pcm")


@dataclass(frozen=True)
class Decision:
    new_sample: bool  # create a sample for this waveform
    match: str        # how the location joins: first, exact-bytes, exact-pcm, near


def decide(sample_exists: bool, bytes_known: bool, near: bool = False, was: str | None = None) -> Decision:
    """sample_exists: a sample with this exact PCM hash is in the library (at another location).
    bytes_known: another location already holds these exact bytes.
    near: the (new) sample was found to be a near duplicate of a sample already in the library.
    was: this location's match when it already held this same sound (a re-analysis): kept, since
    what the file duplicates has not changed, and a fresh decision would count it as the other's copy."""
    if was is not None and not near:
        return Decision(new_sample=False, match=was)
    if not sample_exists:
        return Decision(new_sample=True, match="near" if near else "first")
    if bytes_known:
        return Decision(new_sample=False, match="exact-bytes")
    return Decision(new_sample=False, match="exact-pcm")


def is_duplicate(match: str) -> bool:
    return match != "first"


def canonical(members: list[tuple[int, tuple]]) -> int:
    """The id of the best member, from (id, analysis.same.order_key) pairs: the best source, then
    the waveform hash, so the choice is the same whatever order the copies arrived in."""
    return max(members, key=lambda m: m[1])[0]
