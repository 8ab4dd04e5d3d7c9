"""Names the SP-404MKII shows and FAT accepts: pure functions.

The device lists names in ASCII and shows at most 23 characters of a sample name, so a pad file
is `NN_<name>.WAV` with the whole thing at most 23 characters. FAT forbids some characters and the
DOS device names (CON, NUL, COM1, ...) whatever their extension.
"""

from __future__ import annotations

import re
import unicodedata

from sp404d.errors import Sp404dError

MAX_NAME = 23                 # characters the device shows, prefix and extension included
EXT = ".WAV"
RESERVED = {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(1, 10)), *(f"LPT{i}" for i in range(1, 10))}
_FAT_ILLEGAL = re.compile(r'[\x00-\x1f"*/:<>?\\|\x7f]')
_SQUASH = re.compile(r"[\s_]+")


class BadName(Sp404dError):
    pass


def ascii_name(text: str) -> str:
    """Transliterate to printable ASCII: accents dropped ("Café" -> "Cafe"), anything without an
    ASCII form removed, FAT-illegal characters and runs of spaces/underscores made one "_"."""
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(ch for ch in decomposed if ord(ch) < 128 and not unicodedata.combining(ch))
    plain = _FAT_ILLEGAL.sub("_", plain)
    return _SQUASH.sub("_", plain).strip("._- ")


def _not_reserved(stem: str) -> str:
    return f"{stem}_" if stem.split(".")[0].upper() in RESERVED else stem


def kit_folder(name: str) -> str:
    """The folder of a kit under IMPORT/. Refuses names that would leave IMPORT/ or say nothing."""
    if not isinstance(name, str) or not name.strip():
        raise BadName("a kit needs a name")
    if "/" in name or "\\" in name or name.strip() in (".", "..") or ".." in name.split("/"):
        raise BadName(f"kit name {name!r} is not allowed: it must not contain '/', '\\' or '..'")
    folder = _not_reserved(ascii_name(name).upper()[:MAX_NAME].rstrip("._- "))
    if not folder:
        raise BadName(f"kit name {name!r} has no letters or digits the SP-404MKII can show")
    return folder


def pad_file_names(stems: dict[int, str]) -> dict[int, str]:
    """{pad: source file stem} -> {pad: "NN_<name>.WAV"}, each at most 23 characters and unique
    within the kit (case-insensitively, as FAT compares). Deterministic."""
    room = MAX_NAME - 3 - len(EXT)  # "NN_" and ".WAV": 16 characters of name
    out: dict[int, str] = {}
    used: set[str] = set()
    for pad in sorted(stems):
        base = _not_reserved(ascii_name(stems[pad])[:room].rstrip("._- ") or "pad")
        name, n = base, 1
        while name.upper() in used:  # the pad prefix already makes names unique; this keeps it so
            n += 1
            name = f"{base[:room - len(str(n)) - 1]}~{n}"
        used.add(name.upper())
        out[pad] = f"{pad:02d}_{name}{EXT}"
    return out
