"""The perceptual fingerprint, which finds near-duplicate candidates: the same sound through codecs,
rates, gains and padding keeps its bits and its duration (whether two sounds are the same recording
is test_same.py's). Real ffmpeg encodes where ffmpeg is installed."""

from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pytest
import soundfile as sf

from fixtures import music
from sp404d.analysis import fingerprint as fp
from sp404d.analysis.decode import decode


def fingerprint(path) -> fp.Fingerprint:
    d = decode(str(path))
    return fp.compute(d.excerpt, d.samplerate)


def drum_hit(seed: int, velocity: float = 1.0, seconds: float = 0.4) -> np.ndarray:
    """A snare-like hit: every seed is a separately 'recorded' hit (its own noise and tuning)."""
    rng = np.random.default_rng(seed)
    n = int(seconds * music.SR)
    t = np.arange(n) / music.SR
    body = np.sin(2 * np.pi * (180 + rng.uniform(-5, 5)) * t) * np.exp(-t / (0.05 + 0.02 * velocity))
    noise = rng.normal(0, 1, n) * np.exp(-t / (0.04 + 0.03 * velocity))
    y = velocity * (0.5 * body + 0.5 * noise)
    return y / np.abs(y).max() * 0.9 * velocity


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    folder = tmp_path_factory.mktemp("fp")
    return folder, music.write(folder / "snare.wav", drum_hit(1))


def test_lossless_copies_and_gain_and_padding_match(source):
    folder, src = source
    y, sr = sf.read(src, dtype="float32")
    variants = {
        "flac": (y, sr, "PCM_16", "flac"), "float_plus6db": (y * 2.0, sr, "FLOAT", "wav"),
        "minus12db": (y * 0.25, sr, "PCM_24", "wav"),
        "padded": (np.concatenate([np.zeros(int(0.1 * sr), np.float32), y, np.zeros(int(0.1 * sr), np.float32)]),
                   sr, "PCM_16", "wav"),
    }
    a = fingerprint(src)
    for name, (data, rate, subtype, ext) in variants.items():
        path = folder / f"{name}.{ext}"
        sf.write(path, data, rate, subtype=subtype)
        b = fingerprint(path)
        assert fp.durations_agree(a, b) and fp.distance(a, b) <= 0.2, (name, fp.distance(a, b))


def test_resampled_copies_match(source):
    import soxr

    folder, src = source
    y, sr = sf.read(src, dtype="float32")
    a = fingerprint(src)
    for rate in (22050, 48000, 96000):
        path = folder / f"r{rate}.wav"
        sf.write(path, soxr.resample(y, sr, rate), rate, subtype="PCM_24")
        b = fingerprint(path)
        assert fp.durations_agree(a, b) and fp.distance(a, b) <= 0.2, rate


@pytest.mark.skipif(not shutil.which("ffmpeg"), reason="ffmpeg not installed")
@pytest.mark.parametrize("codec", [["-c:a", "libmp3lame", "-b:a", "128k"], ["-c:a", "libvorbis", "-q:a", "3"],
                                   ["-c:a", "aac", "-b:a", "160k"]])
def test_lossy_encodes_match(source, codec):
    folder, src = source
    ext = {"libmp3lame": "mp3", "libvorbis": "ogg", "aac": "m4a"}[codec[1]]
    out = folder / f"lossy.{ext}"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(src), *codec, str(out)], check=True)
    a, b = fingerprint(src), fingerprint(out)
    assert fp.durations_agree(a, b) and fp.distance(a, b) <= 0.25, fp.distance(a, b)


def test_other_hits_differ_in_many_bits(tmp_path):
    layers = [fingerprint(music.write(tmp_path / f"snare_{v}.wav", drum_hit(seed, v)))
              for seed, v in ((11, 0.4), (12, 0.7), (13, 1.0))]
    kick = fingerprint(music.write(tmp_path / "kick.wav", music.synth_hits(3)["kick"][: int(0.4 * music.SR)]))
    for other in (layers[1], layers[2], kick):
        assert fp.distance(layers[0], other) > 0.3


def test_very_short_sounds_fingerprint(tmp_path):
    y = drum_hit(5, seconds=0.05)
    a = fingerprint(music.write(tmp_path / "click.wav", y))
    assert a is not None and a.bits.shape[0] >= 4
    assert fp.distance(a, fingerprint(music.write(tmp_path / "click2.wav", y * 0.5))) <= 0.2


def test_pack_round_trip(source):
    a = fingerprint(source[1])
    b = fp.Fingerprint.unpack(a.pack())
    assert (a.bits == b.bits).all() and (a.mask == b.mask).all() and (a.shape == b.shape).all()
    assert b.duration == pytest.approx(a.duration, rel=1e-6) and len(a.pack()) < 1400


def test_batched_distances_give_the_answer_of_asking_each_candidate_in_turn(tmp_path):
    """The writer compares a new sound with all its candidates at once (fingerprint.distances)."""
    hits = [drum_hit(seed, v) for seed, v in ((21, 1.0), (22, 0.7), (23, 0.4), (24, 1.0))]
    kick = music.synth_hits(3)["kick"][: int(0.4 * music.SR)]
    pool = [fingerprint(music.write(tmp_path / f"h{i}.wav", y)) for i, y in enumerate(hits + [kick])]
    quieter = fingerprint(music.write(tmp_path / "copy.wav", hits[1] * 0.5))  # the same sound as hits[1]
    bers = fp.distances(quieter, pool)
    assert np.allclose(bers, [fp.distance(quieter, b) for b in pool])
    assert int(np.argmin(bers)) == 1 and bers[1] <= 0.2
