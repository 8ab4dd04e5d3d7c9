"""The dedupe decision, as a pure function. The writer calls it serially, so two copies
analysed at the same moment still end up as one sample with two locations."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Decision:
    new_sample: bool  # create a sample for this waveform
    match: str        # how the location joins its sample: first, exact-bytes, exact-pcm


def decide(sample_exists: bool, bytes_known: bool) -> Decision:
    """sample_exists: a sample with this exact PCM hash is in the library.
    bytes_known: another location already holds these exact bytes."""
    if not sample_exists:
        return Decision(new_sample=True, match="first")
    if bytes_known:
        return Decision(new_sample=False, match="exact-bytes")
    return Decision(new_sample=False, match="exact-pcm")


def is_duplicate(match: str) -> bool:
    return match != "first"
