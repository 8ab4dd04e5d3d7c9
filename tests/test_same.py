"""Is it the same recording? Copies join (gain, codec, rate, padding); other recordings stay apart,
however alike: a short hi-hat and a short synth waveform, two strikes of one cymbal, two layers of
one drum, two strikes of one low drum that differ only in their faint click. Real files through the
real decoder (and ffmpeg for lossy copies), judged by analysis.same."""

from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pytest
import soundfile as sf
import soxr

from fixtures import music
from sp404d.analysis import fingerprint as fpm
from sp404d.analysis import same
from sp404d.analysis import signature as sigm
from sp404d.analysis.decode import decode
from tests.test_fingerprint import drum_hit

SR = music.SR
needs_ffmpeg = pytest.mark.skipif(not shutil.which("ffmpeg"), reason="ffmpeg not installed")


def identity(path) -> same.Identity:
    d = decode(str(path))
    return same.Identity(fpm.compute(d.excerpt, d.samplerate), sigm.compute(d.excerpt, d.samplerate),
                         d.bit_depth is not None)


def write(path, y, rate=SR, subtype="PCM_16"):
    sf.write(str(path), np.asarray(y, np.float32), rate, subtype=subtype)
    return path


def encode(src, out, *codec):
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(src), *codec, str(out)], check=True)
    return out


def closed_hat(seed: int, seconds: float = 0.08) -> np.ndarray:
    """A short closed hi-hat: high-passed noise with a fast decay; each seed another strike."""
    rng = np.random.default_rng(seed)
    n = int(seconds * SR)
    noise = np.diff(rng.normal(0, 1, n + 1))  # tilted up, as a hat is
    y = noise * np.exp(-np.arange(n) / (0.012 * SR))
    return 0.8 * y / np.abs(y).max()


def synth_cycle(ms: float = 8.0) -> np.ndarray:
    """A single short synth waveform, as LMMS ships in shapes/ (a bright pulse-ish cycle)."""
    n = int(ms / 1000 * SR)
    t = np.arange(n) / n
    y = np.sign(np.sin(2 * np.pi * t)) * 0.6 + 0.3 * np.sin(2 * np.pi * 7 * t)
    return 0.8 * y / np.abs(y).max()


def cymbal(seed: int, seconds: float = 2.0) -> np.ndarray:
    """A cymbal strike: one set of inharmonic modes (the cymbal) with this strike's phases and
    strengths, and its own noise. Two seeds are two strikes of one cymbal."""
    modes = np.random.default_rng(99).uniform(400, 9000, 60)  # the cymbal
    rng = np.random.default_rng(seed)                           # the strike
    n = int(seconds * SR)
    t = np.arange(n) / SR
    y = sum(rng.uniform(0.5, 1.0) * np.sin(2 * np.pi * f * t + rng.uniform(0, 2 * np.pi)) * np.exp(-t / rng.uniform(0.4, 0.9))
            for f in modes)
    y = y / 60 + 0.3 * rng.normal(0, 1, n) * np.exp(-t / 0.05)
    return 0.8 * y / np.abs(y).max()


def kick(click_seed: int, seconds: float = 0.35) -> np.ndarray:
    """A low drum: a damped 55 Hz sine (the same in every strike) and a faint click of its own."""
    n = int(seconds * SR)
    t = np.arange(n) / SR
    body = np.sin(2 * np.pi * 55 * t * (1 + 0.5 * np.exp(-t / 0.03))) * np.exp(-t / 0.12)
    click = np.random.default_rng(click_seed).normal(0, 1, n) * np.exp(-t / 0.004) * 0.2
    y = body + click
    return 0.9 * y / np.abs(y).max()


def test_a_short_hat_and_a_short_synth_waveform_stay_apart(tmp_path):
    hat = identity(write(tmp_path / "hihat_closed.wav", closed_hat(1)))
    wave = identity(write(tmp_path / "bunglist.wav", synth_cycle()))
    assert fpm.durations_agree(hat.fingerprint, wave.fingerprint)  # the index would offer one for the other
    assert same.frames(wave.fingerprint) < same.FINGERPRINT_FRAMES  # too short for the fingerprint to judge
    assert not same.judge(hat, wave).same
    assert not same.judge(hat, identity(write(tmp_path / "hat2.wav", closed_hat(2)))).same  # another strike
    assert same.judge(wave, identity(write(tmp_path / "quiet.wav", synth_cycle() * 0.5))).same
    assert same.judge(hat, identity(write(tmp_path / "hat 48k.wav", soxr.resample(closed_hat(1), SR, 48000), 48000))).same


def test_two_strikes_of_one_cymbal_stay_apart(tmp_path):
    a = identity(write(tmp_path / "ride-1.wav", cymbal(1)))
    b = identity(write(tmp_path / "ride-2.wav", cymbal(2)))
    verdict = same.judge(a, b)
    assert not verdict.same, verdict
    assert same.judge(a, identity(write(tmp_path / "ride-1 24bit.wav", cymbal(1) * 0.7, subtype="PCM_24"))).same


def test_two_layers_of_one_drum_stay_apart(tmp_path):
    layers = [identity(write(tmp_path / f"snare_{v}.wav", drum_hit(seed, v)))
              for seed, v in ((11, 0.4), (12, 0.7), (13, 1.0))]
    for i in range(3):
        for j in range(i + 1, 3):
            assert not same.judge(layers[i], layers[j]).same, (i, j)


def test_two_strikes_of_a_low_drum_alike_but_for_their_click_stay_apart(tmp_path):
    a = identity(write(tmp_path / "kick-1.wav", kick(1)))
    b = identity(write(tmp_path / "kick-2.wav", kick(2)))
    e = sigm.compare(a.signature, b.signature)
    assert e.correlation > 0.99 and e.detail < same.SAME_DETAIL  # the waveform alone would call them one
    assert not same.judge(a, b).same
    assert same.judge(a, identity(write(tmp_path / "kick-1 -6dB.wav", kick(1) * 0.5))).same


@needs_ffmpeg
def test_a_quieter_an_mp3_and_a_48k_copy_join(tmp_path):
    y = drum_hit(1)
    src = write(tmp_path / "snare.wav", y)
    original = identity(src)
    copies = {
        "-6 dB": write(tmp_path / "snare -6dB.wav", y * 0.5),
        "48 kHz": write(tmp_path / "snare 48k.wav", soxr.resample(y, SR, 48000), 48000, "PCM_24"),
        "MP3": encode(src, tmp_path / "snare.mp3", "-c:a", "libmp3lame", "-b:a", "128k"),
        "padded": write(tmp_path / "snare padded.wav", np.concatenate([np.zeros(int(0.1 * SR)), y, np.zeros(SR // 10)])),
        "OGG": encode(src, tmp_path / "snare.ogg", "-c:a", "libvorbis", "-q:a", "3"),
        "AAC": encode(src, tmp_path / "snare.m4a", "-c:a", "aac", "-b:a", "160k"),
    }
    for name, path in copies.items():
        verdict = same.judge(original, identity(path))
        assert verdict.same, (name, verdict)


def test_the_decision_is_symmetric(tmp_path):
    a = identity(write(tmp_path / "a.wav", drum_hit(3)))
    b = identity(write(tmp_path / "b.wav", drum_hit(3) * 0.3))
    c = identity(write(tmp_path / "c.wav", drum_hit(4)))
    for x, y in ((a, b), (a, c), (b, c)):
        assert same.judge(x, y).same == same.judge(y, x).same
    assert same.judge(a, b).same and not same.judge(a, c).same


def test_signature_round_trip_and_size(tmp_path):
    d = decode(str(write(tmp_path / "long.wav", cymbal(3, seconds=6.0))))
    s = sigm.compute(d.excerpt, d.samplerate)
    back = sigm.Signature.unpack(s.pack())
    assert (back.head == s.head).all() and (back.windows == s.windows).all() and (back.positions == s.positions).all()
    assert sigm.compare(s, back).correlation == pytest.approx(1.0, abs=1e-6)
    assert len(s.pack()) < 9000 and 10 <= s.windows.shape[0] <= sigm.MAX_WINDOWS
