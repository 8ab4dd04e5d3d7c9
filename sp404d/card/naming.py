"""Names the SP-404MKII shows and FAT accepts: pure functions.

The device lists names in ASCII and shows at most 23 characters of a sample name, so a pad file
is `NN_<name>.WAV` with the whole thing at most 23 characters. FAT forbids some characters and the
DOS device names (CON, NUL, COM1, ...) whatever their extension.

A pad's name keeps the part of its file's name a person recognises: transliterated (anyascii:
"Straße" -> "Strasse"), without freesound's "<id>__<user>__" and other long numbers, without the
leading words every pad of the kit shares ("EE_"), and, when it is too long, without the words that
tell least (filler such as "stereo" and "4mics" first; the instrument, words such as "open",
"snappy", "soft4", and the last word last). Two pads whose names would read the same keep the
words that tell them apart.
"""

from __future__ import annotations

import re

from anyascii import anyascii

from sp404d.analysis import tags
from sp404d.errors import Sp404dError

MAX_NAME = 23                 # characters the device shows, prefix and extension included
EXT = ".WAV"
RESERVED = {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(1, 10)), *(f"LPT{i}" for i in range(1, 10))}
_FAT_ILLEGAL = re.compile(r'[\x00-\x1f"*/:<>?\\|\x7f]')
_SQUASH = re.compile(r"[\s_]+")


class BadName(Sp404dError):
    pass


def ascii_name(text: str) -> str:
    """Transliterate to printable ASCII with anyascii ("Café" -> "Cafe", "Straße" -> "Strasse",
    "日本" -> "RiBen"), FAT-illegal characters and runs of spaces/underscores made one "_"."""
    plain = _FAT_ILLEGAL.sub("_", anyascii(text))
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
    within the kit (case-insensitively, as FAT compares). Deterministic. A name keeps what a person
    recognises (see `words` and `shorten`), and names that would read the same keep the words that
    tell them apart."""
    room = MAX_NAME - 3 - len(EXT)  # "NN_" and ".WAV": 16 characters of name
    words = {pad: card_words(stem) for pad, stem in stems.items()}
    shared = _shared_lead(list(words.values()))
    words = {pad: w[shared:] for pad, w in words.items()}
    names = {pad: shorten(w, room) for pad, w in words.items()}
    for pad in sorted(names):  # names that read the same: keep the words that differ
        alike = [p for p in names if names[p].upper() == names[pad].upper()]
        if len(alike) > 1:
            for p in alike:
                others = {x.lower() for q in alike if q != p for _, x in words[q]}
                names[p] = shorten(words[p], room, keep={x.lower() for _, x in words[p]} - others)
    out: dict[int, str] = {}
    used: set[str] = set()
    for pad in sorted(stems):
        base = _not_reserved(names[pad] or "pad")
        name, n = base, 1
        while name.upper() in used:  # the pad prefix already makes names unique; this keeps it so
            n += 1
            name = f"{base[:room - len(str(n)) - 1]}~{n}"
        used.add(name.upper())
        out[pad] = f"{pad:02d}_{name}{EXT}"
    return out


# freesound.org's "<id>__<user>__<name>", and a leading catalogue number ("00123 Kick")
_FREESOUND = re.compile(r"^\d+__.+?__(?=.)")
_LEADING_ID = re.compile(r"^\d{4,}[\s_.-]+(?=[A-Za-z])")
_TOKEN = re.compile(r"([^A-Za-z0-9]*)([A-Za-z0-9]+)")
# words that say nothing about the sound: recording set-up, format, packaging
_FILLER = re.compile(r"(stereo|mono|st|wav|wave|sample|samples|oneshot|one|shot|\d*mics?)", re.IGNORECASE)
# words that tell sounds of one instrument apart (and tags.LAYER_WORDS): kept as long as the
# instrument is
_TELLING = {"open", "opened", "closed", "close", "pedal", "half", "semi", "muted", "mute", "choke", "hi", "high", "lo",
            "low", "mid", "snappy", "tight", "long", "short", "dry", "wet", "rim", "bell"}
# velocity words as the dynamic marks of sheet music, for a name that has no room for the word
DYNAMICS = {"softest": "pp", "quietest": "pp", "softer": "p", "quieter": "p", "harder": "f", "louder": "f",
            "hardest": "ff", "loudest": "ff"}
_CAMEL_PART = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+")


def card_words(stem: str) -> list[tuple[str, str]]:
    """A stem as (separator before, word) pairs, in ASCII ("Straße" -> "Strasse"), without the
    parts that are not the sound's name: freesound ids and user names, catalogue numbers, long
    numbers (ids). A separator is "_" (for spaces and underscores), "-", or "" at the start."""
    text = anyascii(stem)
    name = _FREESOUND.sub("", text)
    # freesound's name alone, unless it says nothing ("29800__stomachache__3": "stomachache_3", not "3")
    text = name if re.search(r"[A-Za-z]", name) else re.sub(r"^\d+__", "", text)
    text = _LEADING_ID.sub("", text)
    pairs = []
    for sep, word in _TOKEN.findall(text):
        if word.isdigit() and len(word) >= 5:  # an id, not a name ("25671"); "808" and "0105" stay
            continue
        pairs.append(("" if not pairs else "-" if "-" in sep else "_" if sep else "", word))
    return pairs


def _shared_lead(all_words: list[list[tuple[str, str]]]) -> int:
    """How many leading words every name of the kit shares ("EE_" of ElectricEmpire): dropped."""
    if len(all_words) < 2:
        return 0
    n = 0
    while all(len(w) > n + 1 for w in all_words) and len({w[n][1].lower() for w in all_words}) == 1:
        n += 1
    return n


def _priority(i: int, pairs: list[tuple[str, str]], keep: set[str]) -> int:
    """Which words go first when a name is too long: filler (0), then numbers (1) and words (2)
    inside the name, the first word (3), words that tell sounds apart (5), a second instrument
    word (6); never the last word, the first word naming the instrument, or a word in `keep`."""
    word = pairs[i][1]
    if word.lower() in keep or i == len(pairs) - 1:
        return 9
    named = [k for k, (_, w) in enumerate(pairs) if tags.names_instrument(w)]
    if named and i == named[0]:
        return 9
    if i in named:
        return 6
    if word.lower() in _TELLING or word.lower().rstrip("0123456789") in tags.LAYER_WORDS:
        return 5
    if _FILLER.fullmatch(word):
        return 0
    if i == 0:
        return 3
    return 1 if word.isdigit() else 2


def shorten(pairs: list[tuple[str, str]], room: int, keep: set[str] = frozenset()) -> str:
    """Fit words into `room` characters: drop the words that tell least (filler, numbers and words
    inside the name, the first word: see _priority), then write a velocity word as its dynamic mark
    (DYNAMICS: "Softest" -> "pp"; cut to "Soft" it would name another layer), then cut up to 3
    letters off the longest other word (of camelCase, the longest part) if that is enough, then drop
    words that tell sounds apart, then cut words down to 3 letters (velocity words last), then cut
    the end. Of equal words, one whose going makes the name fit goes, else the rightmost."""
    def joined(ps) -> str:
        text = "".join((sep if k else "") + w for k, (sep, w) in enumerate(ps))
        return _SQUASH.sub("_", _FAT_ILLEGAL.sub("_", text)).strip("._- ")

    def drop(ps, below: int):
        while len(joined(ps)) > room and len(ps) > 1:
            ranked = [_priority(i, ps, keep) for i in range(len(ps))]
            least = [i for i in range(len(ps)) if ranked[i] == min(ranked)]
            if ranked[least[0]] >= below:
                break
            enough = [i for i in least if len(joined(ps[:i] + ps[i + 1:])) <= room]
            i = (enough or least)[-1]
            ps = ps[:i] + ps[i + 1:]
        return ps

    def longest(ps, spare_layers_above: int | None = None, only_plain: bool = False):
        """(parts, i, j) of the longest part; with `spare_layers_above`, the longest part longer than
        that which is not a velocity or layer word, if there is one (else, unless `only_plain`, the
        longest of all). i, j are None when there is none."""
        parts = _parts(ps)
        every = [(i, j) for i, p in enumerate(parts) for j in range(len(p))]
        if spare_layers_above is not None:
            plain = [(i, j) for i, j in every if len(parts[i][j]) > spare_layers_above
                     and parts[i][j].lower().rstrip("0123456789") not in tags.LAYER_WORDS]
            every = plain if plain or only_plain else every
        if not every:
            return parts, None, None
        i, j = max(every, key=lambda ij: (len(parts[ij[0]][ij[1]]), -ij[0]))
        return parts, i, j

    def dynamics(ps):
        """A velocity word that would not fit as it is becomes its dynamic mark ("Softest" -> "pp"):
        short, and never the name of another layer, as "Soft" would be."""
        return _joined_parts(ps, [[DYNAMICS.get(x.lower(), x) for x in p] for p in _parts(ps)])

    def cut(ps, shortest: int):
        """Letters off the end of the longest word (of camelCase, the longest part), again and again."""
        while len(joined(ps)) > room:
            parts, i, j = longest(ps, spare_layers_above=4)
            if len(parts[i][j]) <= shortest:
                break
            parts[i][j] = parts[i][j][:-1]
            ps = _joined_parts(ps, parts)
        return ps

    def trim(ps, letters: int):
        """Up to `letters` letters off the longest word that is not a velocity word (keeping 4), if
        that makes the name fit."""
        over = len(joined(ps)) - room
        parts, i, j = longest(ps, spare_layers_above=over + 3, only_plain=True)
        if i is not None and 0 < over <= letters and len(parts[i][j]) - over >= 4:
            parts[i][j] = parts[i][j][:-over]
            return _joined_parts(ps, parts)
        return ps

    pairs = drop(list(pairs), 5)
    if len(joined(pairs)) > room:
        pairs = dynamics(pairs)  # "HatSemiOpen-Softest" -> "HatSemiOpen-pp": every other word stays whole
    pairs = trim(pairs, 3)  # "SnareRimshot-Soft" -> "SnareRimsho-Soft"
    pairs = cut(drop(pairs, 9), 3)
    return joined(pairs)[:room].rstrip("._- ")


def _parts(pairs: list[tuple[str, str]]) -> list[list[str]]:
    """Each word's camelCase parts ("HatSemiOpen" -> Hat, Semi, Open): what shortening cuts."""
    return [_CAMEL_PART.findall(w) or [w] for _, w in pairs]


def _joined_parts(pairs: list[tuple[str, str]], parts: list[list[str]]) -> list[tuple[str, str]]:
    """`pairs` with each word made again from its (changed) parts."""
    return [(sep, "".join(parts[k])) for k, (sep, _) in enumerate(pairs)]
