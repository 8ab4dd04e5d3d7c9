"""What a file really is, from its first bytes, not its name.

Real packs lie: the LMMS set has WAVs named `.ogg`. The container decides which decoder to try.
"""

from __future__ import annotations

HEADER_BYTES = 64


def container_of(head: bytes) -> str | None:
    """The audio container that `head` (the first bytes of a file) starts, or None."""
    if len(head) >= 12 and head[:4] in (b"RIFF", b"RIFX", b"RF64") and head[8:12] == b"WAVE":
        return "wav"
    if head[:4] == b"fLaC":
        return "flac"
    if head[:4] == b"OggS":
        return "ogg"
    if len(head) >= 12 and head[:4] == b"FORM" and head[8:12] in (b"AIFF", b"AIFC"):
        return "aiff"
    if len(head) >= 12 and head[4:8] == b"ftyp":
        return "m4a"  # MP4/M4A/3GP family: AAC or ALAC inside
    if head[:3] == b"ID3":
        return "mp3"
    if len(head) >= 2 and head[0] == 0xFF and (head[1] & 0xE0) == 0xE0 and (head[1] & 0x06) != 0:
        return "mp3"  # MPEG audio frame sync, layer bits set
    if head[:4] == b"caff":
        return "caf"
    return None
