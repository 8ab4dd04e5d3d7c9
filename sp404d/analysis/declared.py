"""The length an AIFF or FLAC file declares, against what the file holds.

libsndfile reads a truncated AIFF quietly as a shorter sound, and ffmpeg does the same with a
truncated FLAC, so a cut-off download would be recorded as a different, shorter sample. Both
containers say how long they are: AIFF and AIFF-C in the `COMM` chunk (frames) and the `SSND`
chunk's size, FLAC in STREAMINFO (total samples per channel, 0 when the encoder did not know).
(WAV's data chunk is checked in riff.py.)
"""

from __future__ import annotations

import struct
from typing import BinaryIO

# AIFF-C compression types whose frames have a fixed size: bytes per sample (None: from sampleSize)
_PCM_TYPES = {b"NONE": None, b"twos": None, b"sowt": None, b"raw ": None, b"in24": 3, b"42ni": 3,
              b"in32": 4, b"23ni": 4, b"fl32": 4, b"FL32": 4, b"fl64": 8, b"FL64": 8,
              b"ulaw": 1, b"ULAW": 1, b"alaw": 1, b"ALAW": 1}
IMA4_BLOCK = (64, 34)  # 64 frames per 34-byte block, per channel


def aiff_shortfall(f: BinaryIO, file_size: int, max_chunks: int = 256) -> str | None:
    """Why a FORM AIFF/AIFC file is shorter than it declares, or None (complete, or not
    an AIFF whose length can be told: an unknown compression, a chunk missing, sizes of 0 left by
    a writer that could not seek back)."""
    f.seek(0)
    head = f.read(12)
    if len(head) < 12 or head[:4] != b"FORM" or head[8:12] not in (b"AIFF", b"AIFC"):
        return None
    comm = ssnd = None
    pos = 12
    for _ in range(max_chunks):
        if pos + 8 > file_size:
            break
        f.seek(pos)
        raw = f.read(8)
        if len(raw) < 8:
            break
        cid, size = struct.unpack(">4sI", raw)
        if cid == b"COMM":
            comm = f.read(min(size, 64))
        elif cid == b"SSND":
            f.seek(pos + 8)
            ssnd_offset = f.read(4)
            if size == 0:  # written to a pipe (ffmpeg does): the sound runs to the end of the file
                ssnd = (pos + 8, file_size - pos - 8)
                break
            ssnd = (pos + 8, size)
        pos += 8 + size + (size & 1)  # chunks are word-aligned
    if ssnd is None:
        return None
    start, size = ssnd
    missing = start + size - file_size
    if missing > 0:
        return f"truncated: {missing} bytes of declared audio data are missing"
    if comm is None or len(comm) < 8 or len(ssnd_offset) < 4:
        return None
    channels, frames, bits = struct.unpack(">hIh", comm[:8])
    if frames == 0:  # not known when the header was written (a pipe): nothing declared
        return None
    compression = comm[18:22] if head[8:12] == b"AIFC" else b"NONE"
    frame_bytes = _frame_bytes(compression, channels, bits)
    held = size - 8 - struct.unpack(">I", ssnd_offset)[0]  # after SSND's offset and block size fields
    if frame_bytes is None or frame_bytes <= 0:
        return None
    if compression == b"ima4":
        need = -(-frames // IMA4_BLOCK[0]) * frame_bytes
    else:
        need = frames * frame_bytes
    if need > held:
        have = max(held, 0) // frame_bytes * (IMA4_BLOCK[0] if compression == b"ima4" else 1)
        return f"truncated: the header declares {frames} frames, the sound data holds {have}"
    return None


def _frame_bytes(compression: bytes, channels: int, bits: int) -> int | None:
    """Bytes per frame (per IMA4 block for ima4), or None for a compression of variable size."""
    if channels <= 0:
        return None
    if compression == b"ima4":
        return IMA4_BLOCK[1] * channels
    if compression not in _PCM_TYPES:
        return None
    per_sample = _PCM_TYPES[compression] or (bits + 7) // 8
    return per_sample * channels if per_sample > 0 else None


def flac_total_frames(head: bytes) -> int | None:
    """Total frames from the STREAMINFO block that opens every FLAC stream; None when unknown
    (0 in the header: allowed for streams whose length the encoder did not know)."""
    if len(head) < 8 + 34 or head[:4] != b"fLaC" or head[4] & 0x7F != 0:  # block type 0: STREAMINFO
        return None
    packed = int.from_bytes(head[8 + 10:8 + 18], "big")  # rate 20 bits, channels 3, depth 5, total 36
    total = packed & ((1 << 36) - 1)
    return total or None


def flac_shortfall(head: bytes, decoded_frames: int) -> str | None:
    """Why a decoded FLAC is shorter than its STREAMINFO says, or None."""
    total = flac_total_frames(head)
    if total is not None and decoded_frames < total:
        return f"truncated: the header declares {total} frames, only {decoded_frames} could be decoded"
    return None
