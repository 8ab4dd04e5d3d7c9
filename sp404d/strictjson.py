"""Leaf module: JSON that strict parsers accept, whatever the file names.

A Linux file name is bytes, and need not be UTF-8. Python holds such a name as a str with lone
surrogates (\\udcff for the byte 0xff), which `json.dumps` writes as "\\udcff": strict parsers
reject a lone surrogate (Rust's serde_json), others replace it with U+FFFD and lose the name. So
every JSON that leaves sp404d (`--json` output, `export`, socket replies and events, JSON logs)
goes through `dumps`, which writes such a name as two fields:

    "path": "bad\\\\xff\\\\xfe_name.wav"          each byte that is not UTF-8 as the text \\xNN
    "path_bytes": "YmFk//5fbmFtZS53YXY="     the exact bytes, base64

A name that is valid UTF-8 is written as it is, with no `_bytes` field. A list of names gets one
`_bytes` list beside it, with null for the names that need none. `restore` is the inverse: the
daemon applies it to JSON requests, so a client can send any name as `x` plus `x_bytes`.
"""

from __future__ import annotations

import base64
import json
import os
from typing import Any

SUFFIX = "_bytes"


def _raw(text: str) -> bytes | None:
    """The bytes of a name that is not valid UTF-8 text (it holds surrogate escapes), else None."""
    try:
        text.encode("utf-8")
        return None
    except UnicodeEncodeError:
        try:
            return text.encode("utf-8", "surrogateescape")
        except UnicodeEncodeError:  # a lone surrogate that is no escaped byte: keep what is there
            return text.encode("utf-8", "surrogatepass")


def _shown(raw: bytes) -> str:
    return raw.decode("utf-8", "backslashreplace")


def _b64(raw: bytes | None) -> str | None:
    return None if raw is None else base64.b64encode(raw).decode("ascii")


def path_fields(key: str, value: str | os.PathLike) -> dict[str, str]:
    """The JSON fields for one name: {key: value} when it is UTF-8; else the readable form under
    `key` and the exact bytes in base64 under `key_bytes`."""
    value = os.fspath(value)
    raw = _raw(value)
    if raw is None:
        return {key: value}
    return {key: _shown(raw), key + SUFFIX: _b64(raw)}


def text(value: str) -> str:
    """A string where no `_bytes` field can go (a list in a list, an object key, a message)."""
    raw = _raw(value)
    return value if raw is None else _shown(raw)


def strict(obj: Any) -> Any:
    """`obj` with every string made valid UTF-8 text, names that were not given `_bytes` fields."""
    if isinstance(obj, dict):
        out: dict = {}
        for key, value in obj.items():
            key = text(key) if isinstance(key, str) else key
            if isinstance(value, (str, os.PathLike)):
                out.update(path_fields(key, value))
            elif isinstance(value, (list, tuple)):
                raws = [_raw(os.fspath(v)) if isinstance(v, (str, os.PathLike)) else None for v in value]
                out[key] = [strict(v) for v in value]
                if any(r is not None for r in raws):
                    out[key + SUFFIX] = [_b64(r) for r in raws]
            else:
                out[key] = strict(value)
        return out
    if isinstance(obj, (list, tuple)):
        return [strict(v) for v in obj]
    if isinstance(obj, (str, os.PathLike)):
        return text(os.fspath(obj))
    return obj


def dumps(obj: Any, **kwargs) -> str:
    """json.dumps of `strict(obj)`; anything JSON has no type for is written as its str()."""
    kwargs.setdefault("default", lambda o: text(str(o)))
    return json.dumps(strict(obj), **kwargs)


def restore(obj: Any) -> Any:
    """The inverse of `strict` for names: `x` and `x_bytes` become `x` holding the exact name."""
    if isinstance(obj, list):
        return [restore(v) for v in obj]
    if not isinstance(obj, dict):
        return obj
    out = {k: restore(v) for k, v in obj.items() if not (k.endswith(SUFFIX) and k[: -len(SUFFIX)] in obj)}
    for key in obj:
        base = key[: -len(SUFFIX)]
        if not key.endswith(SUFFIX) or base not in obj:
            continue
        encoded = obj[key]
        if isinstance(encoded, str):
            out[base] = _name(encoded)
        elif isinstance(encoded, list) and isinstance(out[base], list) and len(encoded) == len(out[base]):
            out[base] = [_name(e) if isinstance(e, str) else v for e, v in zip(encoded, out[base])]
    return out


def _name(encoded: str) -> str:
    try:
        return base64.b64decode(encoded, validate=True).decode("utf-8", "surrogateescape")
    except ValueError:  # not base64 (binascii.Error is a ValueError)
        raise ValueError(f"a _bytes field that is not base64: {encoded[:40]!r}") from None
