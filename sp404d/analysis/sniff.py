"""What a file really is, from its first bytes, not its name.

Real packs lie: the LMMS set has WAVs named `.ogg`. The container decides which decoder to try.
"""

from __future__ import annotations

HEADER_BYTES = 4096  # enough for two MPEG frames


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
    if _mpeg_frame_length(head, 0) and _mpeg_frame_length(head, _mpeg_frame_length(head, 0)):
        return "mp3"  # two consecutive valid MPEG audio frames: random bytes rarely manage that
    if head[:4] == b"caff":
        return "caf"
    return None


_BITRATES_V1_L3 = (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320)
_BITRATES_V2_L3 = (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160)
_RATES = {3: (44100, 48000, 32000), 2: (22050, 24000, 16000), 0: (11025, 12000, 8000)}


def _mpeg_frame_length(head: bytes, pos: int) -> int:
    """Length of the MPEG Layer III frame starting at `pos`, or 0 if no valid header is there."""
    if pos + 4 > len(head) or head[pos] != 0xFF or (head[pos + 1] & 0xE0) != 0xE0:
        return 0
    version = (head[pos + 1] >> 3) & 3   # 3 = MPEG1, 2 = MPEG2, 0 = MPEG2.5, 1 reserved
    layer = (head[pos + 1] >> 1) & 3     # 1 = Layer III
    bitrate_index = head[pos + 2] >> 4
    rate_index = (head[pos + 2] >> 2) & 3
    padding = (head[pos + 2] >> 1) & 1
    if version == 1 or layer != 1 or bitrate_index in (0, 15) or rate_index == 3:
        return 0
    rate = _RATES[version][rate_index]
    if version == 3:
        return 144_000 * _BITRATES_V1_L3[bitrate_index] // rate + padding
    return 72_000 * _BITRATES_V2_L3[bitrate_index] // rate + padding
