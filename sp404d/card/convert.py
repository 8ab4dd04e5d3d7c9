"""Rendering a sample as the SP-404MKII reads it: PCM WAV, 48 kHz, 16-bit, mono or stereo,
nothing but the fmt and data chunks (the `wave` module writes exactly those)."""

from __future__ import annotations

import io
import os
import subprocess
import wave

import numpy as np
import soundfile as sf
import soxr

from sp404d.analysis import riff

RATE = 48000


class RenderError(Exception):
    """A source that cannot be read for the card (one line: why)."""


def _read(path: str) -> tuple[np.ndarray, int, bool]:
    """(frames x channels float32, rate, already 16-bit PCM). ffmpeg for what libsndfile cannot read."""
    try:
        # a WAV carrying Ogg Vorbis (LMMS ships some): ffmpeg has no decoder for it ("codec none"),
        # libsndfile reads its stream alone, as analysis does
        where = riff.ogg_in_wav(path)
        source = riff.ogg_stream(path, where) if where else os.fsencode(path)  # bytes: soundfile would encode a str strictly
        with sf.SoundFile(source) as f:
            is16 = f.subtype == "PCM_16"
            return f.read(dtype="float32", always_2d=True), f.samplerate, is16
    except (sf.LibsndfileError, RuntimeError):
        pass
    try:
        out = subprocess.run(["ffmpeg", "-v", "error", "-i", path, "-f", "f32le", "-ac", "2", "-ar", str(RATE), "-"],
                             capture_output=True, check=True, timeout=300).stdout
    except FileNotFoundError:
        raise RenderError("neither libsndfile nor ffmpeg (not installed) reads it") from None
    except subprocess.CalledProcessError as e:
        why = e.stderr.decode("utf-8", "replace").strip().splitlines()
        raise RenderError(f"ffmpeg could not decode it: {why[-1] if why else 'exit ' + str(e.returncode)}") from None
    return np.frombuffer(out, np.float32).reshape(-1, 2), RATE, False


def render(path: str, seed: int = 404) -> bytes:
    """The card file for `path`. Deterministic (the dither's noise is seeded), so the same source
    always gives the same bytes. A 48 kHz 16-bit source is copied sample for sample."""
    y, rate, is16 = _read(path)
    if y.shape[1] > 2:  # the device plays mono or stereo: fold the rest down
        y = np.stack([y[:, 0::2].mean(axis=1), y[:, 1::2].mean(axis=1)], axis=1)
    if rate == RATE and is16:
        pcm = np.round(y * 32768).clip(-32768, 32767).astype("<i2")
    else:
        if rate != RATE:
            y = soxr.resample(y, rate, RATE, quality="VHQ")
        # TPDF dither: the sum of two uniform noises of one LSB each, before rounding to 16 bits
        rng = np.random.default_rng(seed)
        lsb = 1.0 / 32768
        noise = (rng.random(y.shape, np.float32) - rng.random(y.shape, np.float32)) * lsb
        pcm = np.round((y + noise) * 32768).clip(-32768, 32767).astype("<i2")
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(pcm.shape[1])
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(pcm.tobytes())
    return buf.getvalue()
