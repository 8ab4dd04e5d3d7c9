"""The worker's decode: one exact waveform hash per sound, whatever the lossless container;
bad files get a failure category, never an exception."""

import os
import struct
import shutil
import subprocess
import threading

import numpy as np
import pytest

from fixtures.audio import hit, write, write_bad_files
from sp404d.analysis.pool import AnalysisPool
from sp404d.analysis.worker import ANALYSIS_VERSION, analyse


def test_same_pcm_in_wav_flac_aiff_hashes_the_same(tmp_path):
    data = hit(1, 0.3, channels=2)
    results = [analyse(str(write(tmp_path / f"k.{ext}", data))) for ext in ("wav", "flac", "aiff")]
    assert all(r["ok"] for r in results)
    assert len({r["pcm_hash"] for r in results}) == 1
    assert {r["container"] for r in results} == {"wav", "flac", "aiff"}
    r = results[0]
    assert (r["samplerate"], r["channels"], r["bit_depth"], r["frames"]) == (44100, 2, 16, len(data))
    assert r["duration"] == pytest.approx(0.3, abs=1e-3)


def test_different_sounds_and_rates_hash_differently(tmp_path):
    a = analyse(str(write(tmp_path / "a.wav", hit(1))))
    b = analyse(str(write(tmp_path / "b.wav", hit(2))))
    c = analyse(str(write(tmp_path / "c.wav", hit(1), rate=48000)))
    assert len({a["pcm_hash"], b["pcm_hash"], c["pcm_hash"]}) == 3


def test_lossy_containers_decode(tmp_path):
    for ext in ("ogg", "mp3"):
        r = analyse(str(write(tmp_path / f"x.{ext}", hit(3, 0.5))))
        assert r["ok"] and r["container"] == ext and r["bit_depth"] is None and r["duration"] > 0.4


def test_content_decides_not_the_name(tmp_path):
    wav = write(tmp_path / "real.wav", hit(4))
    liar = tmp_path / "liar.ogg"
    shutil.copyfile(wav, liar)
    assert analyse(str(liar))["pcm_hash"] == analyse(str(wav))["pcm_hash"]


def vorbis_in_wav(ogg: bytes, mode_tag: int = 0x674F) -> bytes:
    """A RIFF WAVE whose data chunk is a whole Ogg Vorbis stream, as the old vorbis.acm codec
    wrote them (LMMS ships its samples so, named .ogg)."""
    fmt = struct.pack("<HHIIHH", mode_tag, 1, 44100, 11000, 1, 16) + struct.pack("<H", 0)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", len(ogg)) + ogg
    return b"RIFF" + struct.pack("<I", len(body)) + body + (b"\0" if len(ogg) % 2 else b"")


def test_vorbis_inside_a_wav_container_decodes(tmp_path):
    ogg = write(tmp_path / "plain.ogg", hit(5, 0.6)).read_bytes()
    odd = tmp_path / "kick04.ogg"
    odd.write_bytes(vorbis_in_wav(ogg))
    r, plain = analyse(str(odd)), analyse(str(tmp_path / "plain.ogg"))
    assert r["ok"], r
    assert r["container"] == "wav" and r["bit_depth"] is None            # lossy, whatever the box says
    assert r["pcm_hash"] == plain["pcm_hash"]                            # the same decoded audio
    broken = tmp_path / "broken.ogg"
    broken.write_bytes(vorbis_in_wav(b"OggS" + bytes(200)))
    assert analyse(str(broken))["category"] == "corrupt"
    other = tmp_path / "mode3.ogg"                                       # header-stripped modes: no decoder
    other.write_bytes(vorbis_in_wav(ogg, mode_tag=0x6751))
    assert analyse(str(other))["category"] == "unsupported"


@pytest.mark.skipif(not shutil.which("ffmpeg"), reason="ffmpeg not installed")
def test_m4a_decodes_through_ffmpeg(tmp_path):
    wav = write(tmp_path / "s.wav", hit(5, 0.5))
    m4a = tmp_path / "s.m4a"
    subprocess.run(["ffmpeg", "-v", "error", "-i", str(wav), "-c:a", "aac", "-b:a", "160k", str(m4a)], check=True)
    r = analyse(str(m4a))
    assert r["ok"] and r["decoder"] == "ffmpeg" and r["container"] == "m4a" and r["duration"] > 0.4


def test_m4a_without_ffmpeg_says_to_install_it(tmp_path, monkeypatch):
    m4a = tmp_path / "s.m4a"
    m4a.write_bytes(b"\x00\x00\x00\x20ftypM4A " + bytes(100))
    monkeypatch.setattr("sp404d.analysis.decode.ffmpeg_available", lambda: False)
    r = analyse(str(m4a))
    assert (r["ok"], r["category"]) == (False, "unsupported") and "ffmpeg" in r["message"]
    assert r["analysis_version"] == ANALYSIS_VERSION  # a newer analyser (with ffmpeg about) tries again


def test_bad_files_get_their_category(tmp_path):
    for path, category in write_bad_files(tmp_path).items():
        r = analyse(str(path))
        assert not r["ok"] and r["category"] == category, (path.name, r)
    (tmp_path / "folder.wav").mkdir()
    assert analyse(str(tmp_path / "folder.wav"))["category"] == "unreadable"
    assert analyse(str(tmp_path / "nope.wav"))["category"] == "unreadable"


def test_an_aiff_or_flac_holding_less_than_it_declares_fails_as_corrupt(tmp_path):
    """libsndfile reads an AIFF cut short as a shorter sound; the header's length decides."""
    from fixtures.malformed import aiff_frames_lie, flac_total_lies, sound_bytes

    cases = {"aiff": sound_bytes("AIFF", seed=1), "aifc": sound_bytes("AIFF", "FLOAT", seed=1, channels=2),
             "ima4.aifc": sound_bytes("AIFF", "IMA_ADPCM", seed=1), "flac": sound_bytes("FLAC", seed=1)}
    for name, raw in cases.items():
        whole = tmp_path / f"whole.{name}"
        whole.write_bytes(raw)
        assert analyse(str(whole))["ok"], name
        for cut in (len(raw) // 3, len(raw) - 1):
            short = tmp_path / f"short_{cut}.{name}"
            short.write_bytes(raw[:cut])
            r = analyse(str(short))
            assert (r["ok"], r["category"]) == (False, "corrupt"), (name, cut, r)
            assert name == "flac" or r["message"].startswith("truncated:"), r["message"]
    lie = tmp_path / "lie.aiff"
    lie.write_bytes(aiff_frames_lie(cases["aiff"], 1))
    r = analyse(str(lie))
    assert r["category"] == "corrupt" and r["message"] == "truncated: the header declares 13231 frames, the sound data holds 13230"
    lie.write_bytes(aiff_frames_lie(cases["aifc"], 7))
    assert analyse(str(lie))["message"] == "truncated: the header declares 13237 frames, the sound data holds 13230"
    lie = tmp_path / "lie.flac"
    lie.write_bytes(flac_total_lies(cases["flac"], 10))
    assert analyse(str(lie))["category"] == "corrupt"
    piped = bytearray(cases["aiff"])  # as ffmpeg writes AIFF to a pipe: FORM, COMM frames and SSND sizes left 0
    piped[4:8] = piped[22:26] = piped[42:46] = bytes(4)
    assert piped[38:42] == b"SSND"
    (tmp_path / "piped.aiff").write_bytes(piped)
    assert analyse(str(tmp_path / "piped.aiff"))["frames"] == 13230


@pytest.mark.skipif(shutil.which("ffprobe") is None, reason="needs ffmpeg")
def test_a_flac_that_ffmpeg_decodes_short_fails_as_corrupt(tmp_path):
    """ffmpeg decodes what is there of a truncated FLAC without an error: STREAMINFO's total decides."""
    from fixtures.malformed import sound_bytes
    from sp404d.analysis.decode import _decode_ffmpeg, _whole
    from sp404d.errors import AnalysisFailed

    raw = sound_bytes("FLAC", seed=2, seconds=2.0)
    p = tmp_path / "cut.flac"
    p.write_bytes(raw[: len(raw) * 2 // 3])
    short = _decode_ffmpeg(str(p), "flac", 300)
    assert 0 < short.frames < 88200
    with pytest.raises(AnalysisFailed, match="truncated: the header declares 88200 frames"):
        _whole(short, raw[:4096])


def test_a_flac_that_does_not_say_its_length_is_read_whole_by_ffmpeg_or_asks_for_it(tmp_path, monkeypatch):
    """libsndfile fails part-way through a FLAC whose STREAMINFO says 0 samples (a streamed
    encode); it is a good file: ffmpeg reads it whole, and without ffmpeg it is unsupported, not corrupt."""
    from fixtures.malformed import flac_length_unknown, sound_bytes
    from sp404d.analysis import decode as decode_module

    raw = sound_bytes("FLAC", seed=3, seconds=2.0)
    whole, streamed = tmp_path / "whole.flac", tmp_path / "streamed.flac"
    whole.write_bytes(raw)
    streamed.write_bytes(flac_length_unknown(raw))
    if shutil.which("ffprobe") is not None:
        a, b = analyse(str(whole)), analyse(str(streamed))
        assert b["ok"] and b["frames"] == a["frames"] == 88200 and b["pcm_hash"] == a["pcm_hash"], b
    monkeypatch.setattr(decode_module, "ffmpeg_available", lambda: False)
    r = analyse(str(streamed))
    assert (r["ok"], r["category"]) == (False, "unsupported") and "needs ffmpeg" in r["message"]


def test_the_malformed_corpus_fails_or_is_recorded_as_it_says(tmp_path):
    """fixtures/malformed.py, in this process (the daemon's test drops it into a watched folder)."""
    from fixtures import malformed

    for path, want in malformed.make(tmp_path / "bad", files=200, long_hours=0).items():
        r = analyse(os.fsdecode(path))
        if want == malformed.RECORDED or (want == malformed.FAILS + "|" + malformed.RECORDED and r["ok"]):
            assert r["ok"], (path.name, r)
        elif want in (malformed.FAILS, malformed.FAILS + "|" + malformed.RECORDED):
            assert not r["ok"], (path.name, r)
        else:
            assert r.get("category") == want, (path.name, r)


def test_unreadable_file(tmp_path, monkeypatch):
    p = write(tmp_path / "locked.wav", hit(1))
    p.chmod(0)
    if os.geteuid() == 0:  # root reads anything: make the decoder's open() refuse, as the OS would
        def refuse(*a, **k):
            raise PermissionError(13, "Permission denied")
        monkeypatch.setattr("sp404d.analysis.decode.open", refuse, raising=False)
    r = analyse(str(p))
    assert r["category"] == "unreadable" and "Permission denied" in r["message"]


def test_large_file_is_streamed_with_bounded_excerpt(tmp_path):
    from sp404d.analysis.decode import decode

    data = np.tile(hit(9, 1.0), (30, 1))  # 30 s
    p = write(tmp_path / "long.flac", data)
    d = decode(str(p), keep_seconds=2.0)
    assert d.frames == len(data) and d.excerpt.size == 2 * 44100


def test_pool_replaces_crashed_and_hung_workers(tmp_path):
    from fixtures.faulty import crash_or_hang

    good = [write(tmp_path / f"ok{i}.wav", hit(i)) for i in range(6)]
    crash = write(tmp_path / "crash.wav", hit(20))
    hang = write(tmp_path / "hang.wav", hit(21))
    pool = AnalysisPool(2, timeout_seconds=2, max_bytes=1 << 30, function=crash_or_hang)
    results, done = {}, threading.Event()
    paths = [crash, hang, *good]

    def collect(path, result):
        results[path] = result
        if len(results) == len(paths):
            done.set()

    try:
        pool.warm()
        for p in paths:
            pool.submit(str(p), collect)
        assert done.wait(60)
    finally:
        pool.close()
    assert results[str(crash)]["category"] == "crash"
    assert results[str(hang)]["category"] == "timeout"
    assert all(results[str(p)]["ok"] for p in good)
    assert pool.crashes == 1 and pool.timeouts == 1


def test_float_files_with_overs_are_read_not_wrapped(tmp_path):
    """32-bit float has headroom: a file peaking at +5 dBFS is analysed as it is (libsndfile's
    float-to-int read would wrap it), and hashed as clipped integer PCM."""
    import soundfile as sf

    from sp404d.analysis.decode import decode

    t = np.arange(44100) / 44100
    y = (1.8 * np.sin(2 * np.pi * 220 * t) * np.exp(-3 * t)).astype(np.float32)
    sf.write(tmp_path / "over.wav", y, 44100, subtype="FLOAT")
    d = decode(str(tmp_path / "over.wav"))
    assert d.peak == pytest.approx(1.8, abs=0.01) and float(np.abs(d.excerpt).max()) == pytest.approx(1.8, abs=0.01)
    assert d.clipped > 0
    r = analyse(str(tmp_path / "over.wav"))
    assert r["ok"] and r["peak_dbfs"] == pytest.approx(5.1, abs=0.1)


def test_a_float_file_with_nan_or_infinite_samples_fails_as_corrupt_and_says_why(tmp_path):
    import soundfile as sf

    y = np.sin(np.arange(44100) * 0.05).astype(np.float32)
    for bad in (np.nan, np.inf):
        y[1000] = bad
        sf.write(tmp_path / "broken.wav", y, 44100, subtype="FLOAT")
        r = analyse(str(tmp_path / "broken.wav"))
        assert (r["ok"], r["category"]) == (False, "corrupt") and "not numbers" in r["message"], r
