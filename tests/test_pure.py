"""Pure decisions: settle, names, dedupe, protocol, sniffing. No threads, no disks."""

import json

import pytest

from sp404d.analysis.sniff import container_of
from sp404d.control import protocol
from sp404d.control.protocol import ProtocolError
from sp404d.errors import ErrorCode
from sp404d.library.dedupe import decide, is_duplicate
from sp404d.watch.names import is_candidate, is_junk
from sp404d.watch.settle import Settler


class FakeDisk:
    def __init__(self):
        self.stamps = {}

    def stat(self, path):
        return self.stamps.get(path)


def test_settle_waits_until_size_and_mtime_are_stable():
    disk, s = FakeDisk(), Settler(1.0)
    disk.stamps["a.wav"] = (100, 1)
    s.touch("a.wav", now=0.0)
    assert s.poll(0.1, disk.stat) == ([], [])        # first sight: remember the stamp
    disk.stamps["a.wav"] = (200, 2)                  # still being copied
    assert s.poll(0.9, disk.stat) == ([], [])
    assert s.poll(1.5, disk.stat) == ([], [])        # stable for only 0.6 s
    assert s.poll(2.0, disk.stat) == ([("a.wav", (200, 2))], [])
    assert len(s) == 0


def test_settle_touch_restarts_the_quiet_period_and_vanished_paths_are_reported():
    disk, s = FakeDisk(), Settler(1.0)
    disk.stamps["a.wav"] = (1, 1)
    s.touch("a.wav", 0.0)
    s.poll(0.0, disk.stat)
    s.touch("a.wav", 0.8)                            # another write event, same size (e.g. rewrite)
    assert s.poll(1.2, disk.stat) == ([], [])
    assert s.poll(1.9, disk.stat)[0] == [("a.wav", (1, 1))]
    s.touch("b.wav", 2.0)
    assert s.poll(2.1, disk.stat) == ([], ["b.wav"])


def test_settle_forget_under_a_folder():
    s = Settler(1.0)
    for p in ("/d/x/a.wav", "/d/x/b.wav", "/d/xy/c.wav"):
        s.touch(p, 0)
    s.forget_under("/d/x")
    assert "/d/xy/c.wav" in s and len(s) == 1


@pytest.mark.parametrize("name", [".DS_Store", "._kick.wav", ".hidden.wav", "kick.wav.part", "k.wav.crdownload",
                                  "x.tmp", "Thumbs.db", "song.wav~"])
def test_junk_names_are_ignored(name):
    assert is_junk(name) and not is_candidate(f"/drop/{name}")


@pytest.mark.parametrize("name,ok", [("Kick 01.WAV", True), ("loop.flac", True), ("a.aif", True), ("b.m4a", True),
                                     ("readme.txt", False), ("cover.png", False), ("noext", False)])
def test_candidates_are_audio_names(name, ok):
    assert is_candidate(f"/drop/{name}") is ok


def test_dedupe_decision():
    assert decide(sample_exists=False, bytes_known=False).new_sample
    assert decide(False, False).match == "first"
    assert decide(True, True).match == "exact-bytes"
    assert decide(True, False).match == "exact-pcm"
    # described again at the same path: it stays what it was found to be, unless now found near another
    assert decide(True, False, was="first").match == "first"
    assert decide(False, False, was="near").match == "near"
    assert decide(False, False, near=True, was="first").match == "near"
    assert not is_duplicate("first") and is_duplicate("exact-pcm")


def test_protocol_parses_words_and_json():
    assert protocol.parse_request(b"status\n") == ("status", {})
    assert protocol.parse_request(b'{"cmd": "import", "paths": ["/a"]}') == ("import", {"paths": ["/a"]})


@pytest.mark.parametrize("line,code", [(b"", ErrorCode.BAD_REQUEST), (b"\xff\xfe", ErrorCode.BAD_REQUEST),
                                       (b"{nope", ErrorCode.BAD_REQUEST), (b'{"x": 1}', ErrorCode.BAD_REQUEST),
                                       (b"two words", ErrorCode.BAD_REQUEST)])
def test_protocol_errors_have_codes(line, code):
    with pytest.raises(ProtocolError) as e:
        protocol.parse_request(line)
    assert e.value.code == code
    reply = json.loads(protocol.error(e.value.code, e.value.message))
    assert reply == {"ok": False, "error": {"code": int(code), "name": code.name.lower(), "message": e.value.message}}


def test_sniff_by_content_not_name():
    assert container_of(b"RIFF\x00\x00\x00\x00WAVEfmt ") == "wav"
    assert container_of(b"fLaC\x00") == "flac"
    assert container_of(b"OggS\x00") == "ogg"
    assert container_of(b"FORM\x00\x00\x00\x00AIFF") == "aiff"
    assert container_of(b"\x00\x00\x00\x20ftypM4A ") == "m4a"
    assert container_of(b"ID3\x04") == "mp3"
    assert container_of(b"\xff\xfb\x00\x00garbage") is None  # a sync word alone is not an MP3
    assert container_of(b"hello world") is None


def test_settle_folder_rename_keeps_pending_paths():
    s = Settler(1.0)
    s.touch("/d/a/x.wav", 0)
    s.rename_under("/d/a", "/d/b", 0.5)
    assert "/d/b/x.wav" in s and "/d/a/x.wav" not in s


def test_rate_is_over_the_last_minute():
    from sp404d.intake.progress import RateMeter

    r = RateMeter(window=60, start=0.0)
    assert r.rate(1.0) == 0.0
    r.add(10.0, 100)
    assert r.rate(10.0) == 10.0          # 100 files in the first 10 s
    r.add(100.0, 700)                    # the baseline moves to t=10: 600 files in 90 s
    assert r.rate(100.0) == pytest.approx(600 / 90)
    assert r.rate(161.0) == 0.0          # nothing finished for over a minute


def strict_loads(raw: bytes):
    """Parse as a strict parser does: UTF-8 that decodes strictly, and no lone surrogate escaped in
    it (Python's json.loads accepts "\\udcff"; serde_json does not)."""
    obj = json.loads(raw.decode("utf-8", "strict"))

    def check(v):
        if isinstance(v, str):
            v.encode("utf-8")  # raises on a lone surrogate
        elif isinstance(v, dict):
            for k, x in v.items():
                check(k)
                check(x)
        elif isinstance(v, list):
            for x in v:
                check(x)
    check(obj)
    return obj


BAD = b"/drop/bad\xff\xfe_name.wav".decode("utf-8", "surrogateescape")


def test_a_name_that_is_not_utf8_is_written_escaped_with_its_bytes_and_read_back_exactly():
    from sp404d import strictjson

    assert json.dumps({"path": BAD}).count("\\udc") == 2  # what a strict parser rejects
    row = {"path": BAD, "paths": ["/ok/é.wav", BAD], "canonical": {"path": BAD}, "move": [[BAD, "/x"]],
           "message": f"cannot open {BAD}", "size": 3}
    out = strict_loads(strictjson.dumps(row).encode())
    assert out["path"] == "/drop/bad\\xff\\xfe_name.wav" and out["path_bytes"] == "L2Ryb3AvYmFk//5fbmFtZS53YXY="
    assert out["paths"] == ["/ok/é.wav", out["path"]] and out["paths_bytes"] == [None, out["path_bytes"]]
    assert out["canonical"] == {"path": out["path"], "path_bytes": out["path_bytes"]}
    assert out["move"] == [[out["path"], "/x"]] and out["size"] == 3
    assert strictjson.restore(out) == {**row, "move": [[out["path"], "/x"]]}  # a list in a list keeps the text
    assert strictjson.dumps({"path": "/ok/café 🎛.wav"}) == json.dumps({"path": "/ok/café 🎛.wav"})  # UTF-8: as it was


def test_socket_replies_are_strict_and_requests_carry_any_name():
    reply = strict_loads(protocol.ok(last_errors=[{"path": BAD, "category": "corrupt"}]))
    assert reply["last_errors"][0]["path_bytes"] == "L2Ryb3AvYmFk//5fbmFtZS53YXY="
    line = b'{"cmd": "import", "paths": ["/drop/bad\\\\xff", "/ok"], "paths_bytes": ["L2Ryb3AvYmFk/w==", null]}'
    assert protocol.parse_request(line) == ("import", {"paths": [b"/drop/bad\xff".decode("utf-8", "surrogateescape"),
                                                                 "/ok"]})
    with pytest.raises(ProtocolError) as e:
        protocol.parse_request(b'{"cmd": "import", "paths": ["x"], "paths_bytes": ["not base64!"]}')
    assert e.value.code == ErrorCode.BAD_REQUEST


def test_json_logs_are_strict(tmp_path):
    import io

    from sp404d import logs

    stream = io.StringIO()
    logs.configure("info", stream=stream, json=True)
    try:
        logs.get("test").warning("cannot read", path=BAD)
    finally:
        logs.configure("warning")
    line = strict_loads(stream.getvalue().encode())
    assert line["path_bytes"] == "L2Ryb3AvYmFk//5fbmFtZS53YXY=" and line["event"] == "cannot read"


def test_a_loop_with_a_flat_chroma_gets_no_key_whatever_its_category():
    from sp404d.analysis.decide import wants_key

    # a drum loop read as melodic (lmms jungle01: tonalness 0.003) has partials, but no key in it
    assert not wants_key("melodic-loop", tonalness=0.003, tonal_fraction=0.5, pitched=0.6)
    assert not wants_key("drum-loop", tonalness=0.01, tonal_fraction=0.5, pitched=0.6)
    assert wants_key("melodic-loop", tonalness=0.07, tonal_fraction=0.5, pitched=0.6)
    assert wants_key("drum-loop", tonalness=0.031, tonal_fraction=0.4, pitched=0.6)  # chords under drums
    assert wants_key("keys/melodic", tonalness=0.01, tonal_fraction=0.5, pitched=0.6)  # one note: flat over keys
    assert not wants_key("melodic-loop", tonalness=0.3, tonal_fraction=0.5, pitched=0.1)  # no partials at all
