"""Decode a file once, streaming, into the exact waveform hash and a bounded excerpt.

The hash is xxh3_128 over the decoded integer PCM (int32, interleaved, little-endian, left-
justified), prefixed by rate and channel count. libsndfile and ffmpeg both produce that layout,
so the same sound as WAV, FLAC or AIFF at the same rate and depth hashes the same, tags and
containers aside. Reading in blocks keeps memory bounded for a 3-hour file: the whole file is
hashed, only the first `keep_seconds` are kept (as float32 mono) for analysis.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass

import numpy as np
import soundfile as sf
import xxhash

from sp404d.analysis import declared, riff
from sp404d.analysis.sniff import HEADER_BYTES, container_of
from sp404d.errors import AnalysisFailed, FailureCategory

BLOCK_FRAMES = 1 << 16
WHOLE_READ_FRAMES = 1 << 21  # up to ~45 s at 44.1 kHz read in one call
MAX_CHANNELS = 32
RATE_RANGE = (1000, 768_000)
INT32_SCALE = 1.0 / 2**31
CLIP_LEVEL = 0.9999

# libsndfile subtype -> stored bit depth (None for lossy codecs, which have none)
_BIT_DEPTH = {"PCM_S8": 8, "PCM_U8": 8, "PCM_16": 16, "PCM_24": 24, "PCM_32": 32, "FLOAT": 32,
              "DOUBLE": 64, "ALAC_16": 16, "ALAC_20": 20, "ALAC_24": 24, "ALAC_32": 32}


@dataclass
class Decoded:
    container: str
    decoder: str            # "soundfile" or "ffmpeg"
    samplerate: int
    channels: int
    subtype: str
    bit_depth: int | None
    frames: int
    pcm_hash: str
    excerpt: np.ndarray     # float32 mono, at most keep_seconds long
    peak: float = 0.0       # largest |sample| over the whole file and every channel, 0..1
    rms: float = 0.0        # over the whole file and every channel
    clipped: int = 0        # samples at full scale
    acid: dict | None = None

    @property
    def duration(self) -> float:
        return self.frames / self.samplerate


class _Accumulator:
    """Hashes int32 blocks and keeps the first `keep_frames` as float32 mono."""

    def __init__(self, samplerate: int, channels: int, keep_seconds: float):
        self.hasher = xxhash.xxh3_128(f"{samplerate}/{channels}/".encode())
        self.keep_frames = int(keep_seconds * samplerate)
        self.kept: list[np.ndarray] = []
        self.kept_frames = 0
        self.frames = 0
        self.peak = 0
        self.sum_squares = 0.0
        self.clipped = 0

    def add(self, block: np.ndarray) -> None:
        """block: (frames, channels), int32 PCM or float in -1..1 (which may go beyond: float has
        headroom). The exact hash is of integer PCM, so float is clipped to int32 for the hash only;
        analysis keeps the unclipped signal."""
        if not block.size:
            return
        if block.dtype.kind == "f":
            if not np.isfinite(block).all():  # a broken float file: no sound to analyse, no PCM to hash
                raise AnalysisFailed(FailureCategory.CORRUPT, "the file holds samples that are not numbers "
                                                              "(NaN or infinity)")
            scaled = block.astype(np.float32, copy=False)
            pcm = np.clip(np.asarray(block, dtype=np.float64) * 2**31, -2**31, 2**31 - 1).astype("<i4")
        else:
            pcm = block
            scaled = block.astype(np.float32)
            scaled *= INT32_SCALE
        self.hasher.update(np.ascontiguousarray(pcm, dtype="<i4"))
        self.frames += len(block)
        peak = max(float(scaled.max()), -float(scaled.min()))
        self.peak = max(self.peak, peak)
        flat = scaled.ravel()
        self.sum_squares += float(np.dot(flat, flat))
        if peak >= CLIP_LEVEL:  # rare: count only where it can happen
            self.clipped += int(np.count_nonzero(np.abs(flat) >= CLIP_LEVEL))
        if self.kept_frames < self.keep_frames:
            part = scaled[: self.keep_frames - self.kept_frames]
            # downmix as a matrix-vector product: numpy's mean over a 2-wide axis is 20x slower
            mix = np.full(part.shape[1], 1.0 / part.shape[1], dtype=np.float32)
            self.kept.append(part[:, 0].copy() if part.shape[1] == 1 else part @ mix)
            self.kept_frames += len(part)

    def excerpt(self) -> np.ndarray:
        return np.concatenate(self.kept) if self.kept else np.zeros(0, np.float32)

    def decoded(self, container: str, decoder: str, samplerate: int, channels: int, subtype: str,
                bit_depth: int | None) -> "Decoded":
        rms = float(np.sqrt(self.sum_squares / max(self.frames * channels, 1)))
        return Decoded(container, decoder, samplerate, channels, subtype, bit_depth, self.frames,
                       self.hasher.hexdigest(), self.excerpt(), self.peak, rms, self.clipped)


def _check_shape(samplerate: int, channels: int) -> None:
    if not 1 <= channels <= MAX_CHANNELS:
        raise AnalysisFailed(FailureCategory.UNSUPPORTED, f"{channels} channels (sp404d reads 1 to {MAX_CHANNELS})")
    if not RATE_RANGE[0] <= samplerate <= RATE_RANGE[1]:
        raise AnalysisFailed(FailureCategory.UNSUPPORTED, f"sample rate {samplerate} Hz is out of range")


def _check_riff(path: str, size: int) -> tuple[dict | None, tuple[int, int] | None]:
    """Refuse WAVs that cannot be decoded or are truncated; return their ACID chunk, if any, and
    where an embedded Ogg stream lies (Vorbis-in-WAV), if it is one."""
    with open(path, "rb") as f:
        info = riff.read_chunks(f, size)
        tag = riff.format_tag(f, info) if info else None
        acid = riff.acid(f, info) if info else None
        lie = riff.layout_error(f, info) if info else None
        ogg = riff.embedded_ogg(f, info, tag) if info else None
    if lie:
        raise AnalysisFailed(FailureCategory.CORRUPT, lie)
    if ogg:
        return acid, ogg
    if tag is not None and tag not in riff.DECODABLE_FORMAT_TAGS:
        raise AnalysisFailed(FailureCategory.UNSUPPORTED, f"WAV with codec tag 0x{tag:04X}, which no decoder here reads")
    if info is not None and info.data_missing_bytes:
        raise AnalysisFailed(FailureCategory.CORRUPT,
                             f"truncated: {info.data_missing_bytes} bytes of declared audio data are missing")
    return acid, None


def _check_aiff(path: str, size: int) -> None:
    """Refuse an AIFF/AIFF-C that holds less sound than its header declares (libsndfile would read it
    as a shorter sound)."""
    with open(path, "rb") as f:
        short = declared.aiff_shortfall(f, size)
    if short:
        raise AnalysisFailed(FailureCategory.CORRUPT, short)


def _whole(decoded: Decoded, head: bytes) -> Decoded:
    """A FLAC that decoded to fewer frames than its STREAMINFO declares is truncated (ffmpeg decodes
    what is there without an error; libsndfile fails on it)."""
    if decoded.container == "flac" and (short := declared.flac_shortfall(head, decoded.frames)):
        raise AnalysisFailed(FailureCategory.CORRUPT, short)
    return decoded


def _decode_soundfile(path: str, container: str, keep_seconds: float, embedded: tuple[int, int] | None = None) -> Decoded:
    if embedded:  # the Ogg stream inside a Vorbis WAV, read from memory (max_file_mb bounds it)
        source = riff.ogg_stream(path, embedded)
    else:
        source = os.fsencode(path)  # bytes: soundfile encodes a str path strictly as UTF-8
    with sf.SoundFile(source) as f:
        _check_shape(f.samplerate, f.channels)
        acc = _Accumulator(f.samplerate, f.channels, keep_seconds)
        # float files are read as float: libsndfile's float-to-int read does not clip values beyond
        # full scale (a +6 dB float file came back as garbage)
        dtype = "float32" if f.subtype in ("FLOAT", "DOUBLE") else "int32"
        try:
            if f.frames <= WHOLE_READ_FRAMES:  # most samples: one read, no generator
                acc.add(f.read(dtype=dtype, always_2d=True))
                while (more := f.read(BLOCK_FRAMES, dtype=dtype, always_2d=True)).size:  # header said less
                    acc.add(more)
            else:
                for block in f.blocks(blocksize=BLOCK_FRAMES, dtype=dtype, always_2d=True):
                    acc.add(block)
        except (sf.LibsndfileError, RuntimeError) as e:
            raise AnalysisFailed(FailureCategory.CORRUPT, f"decoding failed: {e}") from None
        if acc.frames == 0:
            raise AnalysisFailed(FailureCategory.CORRUPT, "no audio frames")
        return acc.decoded(container, "soundfile", f.samplerate, f.channels, f.subtype, _BIT_DEPTH.get(f.subtype))


def ffmpeg_available() -> bool:
    return shutil.which("ffmpeg") is not None and shutil.which("ffprobe") is not None


def _decode_ffmpeg(path: str, container: str, keep_seconds: float) -> Decoded:
    probe = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "a:0", "-show_entries",
         "stream=sample_rate,channels,codec_name,bits_per_raw_sample,bits_per_sample", "-of", "json", path],
        capture_output=True, text=True, timeout=60)
    streams = json.loads(probe.stdout or "{}").get("streams") or []
    if probe.returncode != 0 or not streams:
        raise AnalysisFailed(FailureCategory.CORRUPT, f"ffmpeg cannot read it: {probe.stderr.strip()[:200] or 'no audio stream'}")
    s = streams[0]
    rate, channels = int(s.get("sample_rate") or 0), int(s.get("channels") or 0)
    _check_shape(rate, channels)
    bits = int(s.get("bits_per_raw_sample") or s.get("bits_per_sample") or 0) or None
    proc = subprocess.Popen(["ffmpeg", "-nostdin", "-v", "error", "-i", path, "-map", "0:a:0",
                             "-f", "s32le", "-acodec", "pcm_s32le", "pipe:1"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    acc = _Accumulator(rate, channels, keep_seconds)
    frame_bytes = 4 * channels
    pending = b""
    while chunk := proc.stdout.read(BLOCK_FRAMES * frame_bytes):
        pending += chunk
        whole = len(pending) - len(pending) % frame_bytes
        acc.add(np.frombuffer(pending[:whole], "<i4").reshape(-1, channels))
        pending = pending[whole:]
    err = proc.stderr.read().decode("utf-8", "replace").strip()
    if proc.wait() != 0 or acc.frames == 0:
        raise AnalysisFailed(FailureCategory.CORRUPT, f"ffmpeg could not decode it: {err[:200] or 'no audio frames'}")
    codec = s.get("codec_name", "unknown")
    lossless = codec.startswith("pcm_") or codec in ("alac", "flac")
    return acc.decoded(container, "ffmpeg", rate, channels, codec.upper(), bits if lossless else None)


def decode(path: str, keep_seconds: float = 300.0) -> Decoded:
    """Decode `path` once. Raises AnalysisFailed with a category when it cannot."""
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        head = f.read(HEADER_BYTES)
    container = container_of(head)
    if container is None:
        raise AnalysisFailed(FailureCategory.UNSUPPORTED, "not a recognised audio format (content, not name, was checked)")
    acid, embedded = _check_riff(path, size) if container == "wav" else (None, None)
    if container == "aiff":
        _check_aiff(path, size)
    # libsndfile cannot read MP4 containers at all, nor a FLAC written as a stream (STREAMINFO says
    # 0 samples: its reads fail with "psf_fseek() failed" before the end); ffmpeg reads both
    unknown_length = container == "flac" and head[:4] == b"fLaC" and declared.flac_total_frames(head) is None
    if container != "m4a" and not unknown_length:
        try:
            decoded = _decode_soundfile(path, container, keep_seconds, embedded)
            decoded.acid = acid
            return _whole(decoded, head)
        except sf.LibsndfileError as e:
            first_error = str(e)
    else:
        first_error = "libsndfile does not read M4A/AAC" if container == "m4a" else "libsndfile does not read it"
    if ffmpeg_available():
        decoded = _decode_ffmpeg(path, container, keep_seconds)
        decoded.acid = acid
        return _whole(decoded, head)
    if container == "m4a":
        raise AnalysisFailed(FailureCategory.UNSUPPORTED, "M4A/AAC needs ffmpeg: install it (apt install ffmpeg / brew install ffmpeg)")
    if unknown_length:
        raise AnalysisFailed(FailureCategory.UNSUPPORTED, "a FLAC whose header does not say its length needs ffmpeg: "
                                                          "install it (apt install ffmpeg / brew install ffmpeg)")
    raise AnalysisFailed(FailureCategory.CORRUPT, f"{container} file cannot be decoded: {first_error}")
