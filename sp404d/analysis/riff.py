"""A small RIFF/WAVE chunk reader.

soundfile hides two things we need: whether the data chunk is complete (libsndfile quietly
reads a truncated WAV as a shorter one) and chunks it does not expose (ACID tempo, later).
"""

from __future__ import annotations

import io
import struct
from dataclasses import dataclass
from typing import BinaryIO


@dataclass(frozen=True)
class Chunk:
    id: bytes
    offset: int  # of the chunk's payload
    size: int    # declared payload size


@dataclass(frozen=True)
class RiffInfo:
    chunks: tuple[Chunk, ...]
    file_size: int

    def find(self, chunk_id: bytes) -> Chunk | None:
        return next((c for c in self.chunks if c.id == chunk_id), None)

    @property
    def data_missing_bytes(self) -> int:
        """How many bytes of the declared data chunk the file does not hold (0 when complete)."""
        data = self.find(b"data")
        if data is None:
            return 0
        return max(0, data.offset + data.size - self.file_size)


def read_chunks(f: BinaryIO, file_size: int, max_chunks: int = 256) -> RiffInfo | None:
    """Walk the chunks of a little-endian RIFF WAVE file; None if it is not one.

    RF64 files declare 0xFFFFFFFF sizes (the real ones live in ds64); we stop walking there.
    """
    f.seek(0)
    head = f.read(12)
    if len(head) < 12 or head[:4] not in (b"RIFF", b"RF64") or head[8:12] != b"WAVE":
        return None
    chunks = []
    pos = 12
    while pos + 8 <= file_size and len(chunks) < max_chunks:
        f.seek(pos)
        raw = f.read(8)
        if len(raw) < 8:
            break
        cid, size = struct.unpack("<4sI", raw)
        chunks.append(Chunk(cid, pos + 8, size))
        if size == 0xFFFFFFFF or cid == b"data" and pos + 8 + size >= file_size:
            break
        pos += 8 + size + (size & 1)  # chunks are word-aligned
    return RiffInfo(tuple(chunks), file_size)


# WAVE format tags libsndfile decodes (PCM, ADPCM variants, float, A-law, mu-law, GSM, extensible)
DECODABLE_FORMAT_TAGS = frozenset({0x0001, 0x0002, 0x0003, 0x0006, 0x0007, 0x0011, 0x0031, 0xFFFE})


def _payload(f: BinaryIO, info: RiffInfo, chunk_id: bytes, size: int) -> bytes | None:
    """The first `size` bytes of a chunk, or None if the chunk is missing or too short."""
    chunk = info.find(chunk_id)
    if chunk is None or chunk.size < size:
        return None
    f.seek(chunk.offset)
    raw = f.read(size)
    return raw if len(raw) == size else None


def format_tag(f: BinaryIO, info: RiffInfo) -> int | None:
    """The codec tag of the fmt chunk (1 = PCM), or None when there is no readable fmt chunk."""
    raw = _payload(f, info, b"fmt ", 2)
    return struct.unpack("<H", raw)[0] if raw else None


# "Ogg Vorbis in WAV" (the old vorbis.acm codec; LMMS ships such files named .ogg): modes 1 and 1+
# put a whole, ordinary Ogg stream in the data chunk, which libsndfile reads once it is taken out.
OGG_IN_WAV_TAGS = frozenset({0x674F, 0x676F})


def embedded_ogg(f: BinaryIO, info: RiffInfo, tag: int | None) -> tuple[int, int] | None:
    """(offset, size) of the Ogg stream inside a mode-1 Vorbis WAV, or None. `tag`: format_tag()."""
    if tag not in OGG_IN_WAV_TAGS:
        return None
    data = info.find(b"data")
    if data is None:
        return None
    f.seek(data.offset)
    if f.read(4) != b"OggS":
        return None
    return data.offset, min(data.size, info.file_size - data.offset)


def layout_error(f: BinaryIO, info: RiffInfo) -> str | None:
    """For plain PCM and float: a header whose bits per sample or block size cannot be true (a
    "7-bit" file would otherwise be read as something else and recorded as nonsense)."""
    raw = _payload(f, info, b"fmt ", 16)
    if raw is None:
        return None
    tag, channels, _rate, _byte_rate, block_align, bits = struct.unpack("<HHIIHH", raw)
    allowed = {0x0001: (8, 16, 24, 32), 0x0003: (32, 64)}.get(tag)
    if allowed is None:
        return None
    if bits not in allowed:
        return f"the header says {bits} bits per sample, which {'PCM' if tag == 1 else 'float'} WAV cannot have"
    if channels and block_align != channels * bits // 8:
        return f"the header's block size ({block_align}) does not match {channels} channel(s) of {bits} bits"
    return None


def acid(f: BinaryIO, info: RiffInfo) -> dict | None:
    """The ACID chunk (Sony/Magix loop metadata): one-shot flag, root note, beats, tempo."""
    raw = _payload(f, info, b"acid", 24)
    if raw is None:
        return None
    flags, root, _, _, beats, denominator, numerator, tempo = struct.unpack("<IHHfIHHf", raw)
    return {"one_shot": bool(flags & 0x01), "root_note": root if flags & 0x02 else None, "beats": beats,
            "meter": (numerator, denominator), "tempo": float(tempo) if 20.0 <= tempo <= 400.0 else None}


def ogg_in_wav(path: str) -> tuple[int, int] | None:
    """(offset, size) of the Ogg stream of a Vorbis-in-WAV file at `path`, or None (any other file)."""
    with open(path, "rb") as f:
        f.seek(0, 2)
        info = read_chunks(f, f.tell())
        return embedded_ogg(f, info, format_tag(f, info)) if info else None


def ogg_stream(path: str, where: tuple[int, int]) -> io.BytesIO:
    """The embedded Ogg stream at `where` (embedded_ogg's answer), in memory, for libsndfile."""
    with open(path, "rb") as f:
        f.seek(where[0])
        return io.BytesIO(f.read(where[1]))
