"""The control protocol, as pure functions: one request per line, one JSON object per reply line.

A request is a bare word (`status`) or a JSON object (`{"cmd": "import", "paths": [...]}`).
Replies are `{"ok": true, ...}` or `{"ok": false, "error": {"code": N, "message": "..."}}`.
Both are strict UTF-8 JSON: a file name that is not UTF-8 travels as `x` plus `x_bytes`
(strictjson.py), in replies and in requests.
"""

from __future__ import annotations

import json

from sp404d import strictjson
from sp404d.errors import ErrorCode

MAX_LINE = 64 * 1024  # a request line longer than this is refused and the connection closed


class ProtocolError(Exception):
    def __init__(self, code: ErrorCode, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


def parse_request(line: bytes) -> tuple[str, dict]:
    """(command, arguments) from one request line."""
    try:
        text = line.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise ProtocolError(ErrorCode.BAD_REQUEST, "request is not UTF-8") from None
    if not text:
        raise ProtocolError(ErrorCode.BAD_REQUEST, "empty request")
    if text.startswith("{"):
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as e:
            raise ProtocolError(ErrorCode.BAD_REQUEST, f"invalid JSON: {e.msg}") from None
        cmd = obj.pop("cmd", None) if isinstance(obj, dict) else None
        if not isinstance(cmd, str):
            raise ProtocolError(ErrorCode.BAD_REQUEST, 'a JSON request needs a "cmd" string')
        try:
            return cmd, strictjson.restore(obj)
        except ValueError as e:
            raise ProtocolError(ErrorCode.BAD_REQUEST, str(e)) from None
    words = text.split()
    if len(words) != 1:
        raise ProtocolError(ErrorCode.BAD_REQUEST, "a plain request is a single word; use JSON for arguments")
    return words[0], {}


def encode(obj: dict) -> bytes:
    return (strictjson.dumps(obj, separators=(",", ":")) + "\n").encode("utf-8")


def ok(**fields) -> bytes:
    return encode({"ok": True, **fields})


def error(code: ErrorCode, message: str, exit_code: int | None = None) -> bytes:
    """`exit_code`: what the CLI exits with for this error when it runs the command itself (a bad
    query 2, most else 1), so that it exits the same when the daemon ran it."""
    err = {"code": int(code), "name": code.name.lower(), "message": message}
    if exit_code is not None:
        err["exit"] = exit_code
    return encode({"ok": False, "error": err})
