"""Tags in file and folder names, as evidence beside the audio. Pure string functions.

Sample packs say a lot in their names: "Kicks/BD_01.wav", "Loop_Am_90bpm.wav", "SnareRimshot".
Each parser returns (value, confidence, source) where source is "name" (the file's own name) or
"folder" (a folder it is in), or None when the name says nothing.
"""

from __future__ import annotations

import functools
import os
import re

# -- tokens --

_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_SPLIT = re.compile(r"[^A-Za-z0-9#]+")


def tokens(text: str) -> list[str]:
    """Lower-case words: split on separators, camelCase and letter/digit boundaries."""
    return list(_tokens(text))


@functools.lru_cache(maxsize=4096)  # each file's stem and folders are split ~9 times, a kit's folders for every file
def _tokens(text: str) -> tuple[str, ...]:
    words = []
    for part in _SPLIT.split(_CAMEL.sub(" ", text)):
        words.extend(w.lower() for w in _WORD.findall(part))
    return tuple(words)


_WORD = re.compile(r"[A-Za-z#]+|\d+")


def _stem_and_folders(path: str, depth: int = 3) -> tuple[str, list[str]]:
    folder, name = os.path.split(path)
    folders = []
    for _ in range(depth):
        folder, part = os.path.split(folder)
        if not part:
            break
        folders.append(part)
    return os.path.splitext(name)[0], folders  # nearest folder first


# -- tempo --

_BPM_EXPLICIT = re.compile(r"(?<![\d.])(\d{2,3}(?:\.\d{1,2})?)\s*[-_ ]?\s*bpm(?![a-z])|bpm\s*[-_ ]?\s*(\d{2,3}(?:\.\d{1,2})?)(?!\d)",
                           re.IGNORECASE)
_BARE_NUMBER = re.compile(r"(?:^|[_\- ])(\d{2,3})(?=[_\- ])")
DRUM_MACHINES = {"808", "909", "707", "606", "303", "101", "202", "727", "626"}
BPM_RANGE = (50.0, 250.0)


def bpm_from_name(path: str) -> tuple[float, float, str] | None:
    stem, folders = _stem_and_folders(path)
    for text, source in [(stem, "name")] + [(f, "folder") for f in folders]:
        m = _BPM_EXPLICIT.search(text)
        if m:
            bpm = float(m.group(1) or m.group(2))
            if BPM_RANGE[0] <= bpm <= BPM_RANGE[1]:
                return bpm, 0.95, source
    # a bare number between separators, not the last token (that is usually an index: "Kick 100")
    for m in _BARE_NUMBER.finditer(stem):
        value = m.group(1)
        if value not in DRUM_MACHINES and 60 <= int(value) <= 200:
            return float(value), 0.6, "name"
    return None


# -- key --

NOTE_NAMES = ["C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B"]
_PITCH = {"c": 0, "d": 2, "e": 4, "f": 5, "g": 7, "a": 9, "b": 11}
_KEY = re.compile(
    r"(?<![A-Za-z0-9])([A-Ga-g])(#|b|sharp|flat)?[-_ ]?"
    r"(minor|major|min|maj|m|M)?(?![A-Za-z])")


def parse_key(token: str) -> tuple[int, str] | None:
    """A key written on its own ("Am", "F#min", "C major", "Bb"), as (pitch class, scale)."""
    m = re.fullmatch(r"([A-Ga-g])(#|b|sharp|flat)?[-_ ]?(minor|major|min|maj|m|M)?", token.strip())
    if not m:
        return None
    root, accidental, mode = m.groups()
    pc = _PITCH[root.lower()] + {"#": 1, "sharp": 1, "b": -1, "flat": -1}.get(accidental or "", 0)
    scale = "minor" if mode in ("m", "min", "minor") else "major"
    return pc % 12, scale


def key_from_name(path: str) -> tuple[tuple[int, str], float, str] | None:
    """Only a root with a mode ("Am", "C major") or with an accidental ("F#", "Bb") counts: a
    lone capital letter in a name ("Kick A") is more often a variation than a key."""
    stem, folders = _stem_and_folders(path)
    for text, source in [(stem, "name")] + [(f, "folder") for f in folders]:
        for m in _KEY.finditer(text):
            root, accidental, mode = m.groups()
            if not mode and not accidental:
                continue
            if root.islower() and not mode:  # "b" alone inside words is noise
                continue
            if mode == "M" and not root.isupper():
                continue
            parsed = parse_key(m.group(0).strip("-_ "))
            if parsed:
                return parsed, (0.9 if mode else 0.6), source
    return None


def key_name(pc: int, scale: str) -> str:
    return f"{NOTE_NAMES[pc]}{'m' if scale == 'minor' else ''}"


# -- category --

CATEGORIES = ("kick", "snare", "clap", "rim", "hat-closed", "hat-open", "cymbal", "tom", "perc", "bass", "808",
              "vocal", "fx", "keys/melodic", "pad", "drum-loop", "melodic-loop", "vocal-loop")

# single words -> category; checked on the file name first, then folders, nearest first
_WORDS = {
    "kick": "kick", "kik": "kick", "kck": "kick", "bd": "kick", "bassdrum": "kick", "kicks": "kick",
    "snare": "snare", "snr": "snare", "sd": "snare", "sn": "snare", "snares": "snare", "snap": "clap",
    "clap": "clap", "claps": "clap", "handclap": "clap", "clp": "clap", "fingersnap": "clap", "snaph": "clap",
    "rim": "rim", "rimshot": "rim", "rimclick": "rim", "sidestick": "rim", "stick": "rim", "rs": "rim",
    "chh": "hat-closed", "ch": "hat-closed", "closehihat": "hat-closed", "hhclosed": "hat-closed",
    "ohh": "hat-open", "oh": "hat-open", "openhat": "hat-open", "hhopen": "hat-open",
    "hh": "hat-closed", "hat": "hat-closed", "hihat": "hat-closed", "hats": "hat-closed", "hihats": "hat-closed",
    "hhat": "hat-closed", "pedalhihat": "hat-closed", "hhpedal": "hat-closed",
    "crash": "cymbal", "ride": "cymbal", "rd": "cymbal", "china": "cymbal", "splash": "cymbal", "cymbal": "cymbal",
    "cym": "cymbal", "cymbals": "cymbal", "cra": "cymbal", "ridebell": "cymbal", "ridebow": "cymbal",
    "cc": "cymbal", "rc": "cymbal", "crsh": "cymbal", "rde": "cymbal",
    "ft": "tom", "ht": "tom", "mt": "tom", "lt": "tom", "hmt": "tom", "lmt": "tom",
    "kd": "kick", "xs": "rim", "xstick": "rim", "crossstick": "rim",
    "tom": "tom", "toms": "tom", "tm": "tom", "floortom": "tom", "tomh": "tom", "toml": "tom", "tomhigh": "tom",
    "tommid": "tom", "tomlow": "tom",
    "perc": "perc", "percussion": "perc", "conga": "perc", "bongo": "perc", "shaker": "perc", "tambourine": "perc",
    "tamb": "perc", "cowbell": "perc", "cb": "perc", "agogo": "perc", "clave": "perc", "cajon": "perc",
    "woodblock": "perc", "wood": "perc", "triangle": "perc", "guiro": "perc", "cabasa": "perc", "maraca": "perc",
    "maracas": "perc", "timbale": "perc", "djembe": "perc", "clav": "perc", "dununba": "perc", "sangban": "perc",
    "kenkeni": "perc", "waterglass": "perc", "block": "perc", "bell": "perc", "click": "perc", "metronome": "perc",
    "bass": "bass", "sub": "bass", "reese": "bass", "basses": "bass", "bassline": "bass", "bassslap": "bass",
    "vocal": "vocal", "vox": "vocal", "voice": "vocal", "vocals": "vocal", "acapella": "vocal", "chant": "vocal",
    "vowel": "vocal", "choir": "vocal", "breath": "vocal", "crowd": "vocal",
    "fx": "fx", "sfx": "fx", "effect": "fx", "effects": "fx", "riser": "fx", "sweep": "fx", "impact": "fx",
    "noise": "fx", "zap": "fx", "laser": "fx", "scratch": "fx", "whoosh": "fx", "explode": "fx", "warp": "fx",
    "yfx": "fx", "xfx": "fx", "applause": "fx", "chimes": "fx", "impulse": "fx",
    "piano": "keys/melodic", "keys": "keys/melodic", "rhodes": "keys/melodic", "synth": "keys/melodic",
    "pluck": "keys/melodic", "guitar": "keys/melodic", "brass": "keys/melodic", "lead": "keys/melodic",
    "organ": "keys/melodic", "violin": "keys/melodic", "cello": "keys/melodic", "flute": "keys/melodic",
    "trumpet": "keys/melodic", "harpsichord": "keys/melodic", "melody": "keys/melodic", "arp": "keys/melodic",
    "instruments": "keys/melodic", "stab": "keys/melodic", "chord": "keys/melodic", "chords": "keys/melodic",
    "pad": "pad", "pads": "pad", "atmos": "pad", "ambient": "pad", "drone": "pad", "strings": "pad", "string": "pad",
}
_TONAL_BASS_WORDS = {"sub", "reese", "bassline", "synth", "line", "slap", "basses", "808", "acid"}
_OPEN_WORDS = {"open", "opened", "op", "semiopen", "o"}
_LOOP_WORDS = {"loop", "loops", "beat", "beats", "break", "breaks", "breakbeat", "groove", "bassloops"}
_DRUM_WORDS = {"drum", "drums", "beat", "beats", "break", "breaks", "breakbeat", "jungle", "kick", "snare", "hat",
               "hihat", "perc", "groove", "top", "tops"}


# when a name holds several instrument words ("noise-tom", "FX_Chh", "bass drum"), the more
# specific instrument wins over the generic one
PRIORITY = ("kick", "rim", "snare", "clap", "hat-open", "hat-closed", "tom", "cymbal", "808", "bass", "perc",
            "vocal", "pad", "keys/melodic", "fx")
# words that name a sound's style more than its instrument: a folder that says more wins over them
WEAK_WORDS = {"synth", "pluck", "bell", "choir", "noise", "lead", "stab", "click", "chimes", "impulse", "breath",
              "crowd", "fx", "sfx", "effect", "effects", "metronome", "wood", "block", "chord", "chords", "keys"}
# two- and three-letter abbreviations are guesses ("CB" is a cowbell in one kit, a crash in another)
ABBREVIATIONS = {"bd", "sd", "sn", "hh", "ch", "oh", "rs", "cb", "tm", "rd", "kik", "kck", "snr", "clp", "cym",
                 "cra", "chh", "ohh", "tb", "cc", "rc", "crsh", "rde", "ft", "ht", "mt", "lt", "hmt", "lmt", "kd",
                 "xs"}


# abbreviations that stand for one of two instruments, told apart by the sound
AMBIGUOUS = {"cb": ("perc", "cymbal")}  # cowbell, or crash (BJA Pacific's "CB_01")
HATS = ("hat-closed", "hat-open")
_PLAIN_HAT_WORDS = {"hh", "hat", "hihat", "hats", "hihats", "hhat"}
_CLOSED_WORDS = {"closed", "close", "cl", "tight", "pedal", "pd", "foot", "chick"}


def _hat_state(words: list[str]) -> str | None:
    """"open" or "closed" when the words say which, else None ("HH2_01", "Hat 3")."""
    wordset = set(words)
    if {"semi", "semiopen", "half", "halfopen"} & wordset:
        return None  # a half-open hat sounds like either, depending on how far: the sound decides
    if _OPEN_WORDS & wordset or "open" in "".join(words) or any(_WORDS.get(w) == "hat-open" for w in words):
        return "open"  # "OHH", "openhat"
    if _CLOSED_WORDS & wordset or any(_WORDS.get(w) == "hat-closed" for w in wordset - _PLAIN_HAT_WORDS):
        return "closed"  # "CHH", "pedalhihat"
    return None


def ambiguous_name(path: str) -> tuple[str, str] | None:
    """The two categories a file name may mean, for the sound to choose between: an ambiguous
    abbreviation ("CB_01": cowbell or crash), or a hi-hat that says neither open nor closed
    ("HH2_01": BJA Pacific's open hats) or says half-open. None when the name is clear, and when
    a folder settles it ("Cowbells/CB_01", "Open Hats/HH_01"). The first of the pair is the name's
    usual meaning, which the sound must clearly overrule (decide.category)."""
    stem, folders = _stem_and_folders(path)
    words = tokens(stem)
    found = _categories_in(words)
    if not found:
        return None
    if all(word in AMBIGUOUS for _, word in found):
        pair = AMBIGUOUS[found[0][1]]
        if any((_category_from_words(tokens(f)) or ("",))[0] in pair for f in folders):
            return None
        return pair
    if all(_WORDS.get(word, "").startswith("hat") for _, word in found) and _hat_state(words) is None:
        if any(_hat_state(tokens(f)) for f in folders):
            return None
        return HATS
    return None


@functools.lru_cache(maxsize=1)
def _compound_parts() -> list[str]:
    """The instrument words a compound may hold, longest first (sorted once, not for every word)."""
    return [k for k in sorted(_WORDS, key=len, reverse=True) if len(k) >= 4]


def _categories_in(words: list[str]) -> list[tuple[str, str]]:
    """(category, word) for every instrument word, compounds included ("snarerim", "hihatclosed")."""
    found = []
    wordset = set(words)
    for word in words:
        cat = _WORDS.get(word) or (_WORDS.get(word[:-1]) if word.endswith("s") else None)
        if cat is None and len(word) >= 6:
            cat = next((_WORDS[k] for k in _compound_parts() if k in word), None)
        if cat:
            found.append((cat, word))
    if "808" in wordset:
        if {"kick", "bd", "bassdrum"} & wordset:
            found.insert(0, ("kick", "808"))
        elif not any(cat not in ("bass", "808") for cat, _ in found):
            # "808", "808 sub": the bass; beside another instrument ("808_Cowbell", "808 Conga") it
            # names the drum machine the sound comes from, and the instrument is the category
            found.insert(0, ("808", "808"))
    return found


def _category_from_words(words: list[str]) -> tuple[str, bool, bool] | None:
    """(category, only weak words, only abbreviations) or None."""
    wordset, joined = set(words), "".join(words)
    if ({"snare", "sn", "sd"} & wordset and any(w.startswith("rim") for w in words)
            and not any("click" in w or "stick" in w for w in words)):
        # "SnareRimshot", "snare_rim": a rimshot strikes head and rim at once, a louder snare (the
        # Colombo and Forzee kits file theirs under Snare); the rim sound alone is a rim click or
        # side stick ("SnareRimClick", "sidestick"), or a bare "RS"/"rimshot" as on an 808
        return "snare", False, False
    found = _categories_in(words)
    if not found:
        return None
    if {"bass", "bassdrum"} & wordset and "drum" in wordset:
        found.append(("kick", "drum"))
    if "bass" in wordset and any(c == "perc" and w not in WEAK_WORDS for c, w in found):
        # "Djembe1 Bass", "Conga Bass": the low stroke of a hand drum, not a bass note
        found = [(c, w) for c, w in found if c != "bass"]
    opened = _OPEN_WORDS & wordset or "open" in joined
    cats = {("hat-open" if c == "hat-closed" and opened else c) for c, _ in found}
    best = min(cats, key=PRIORITY.index)
    words_for_best = [w for c, w in found if (("hat-open" if c == "hat-closed" and opened else c) == best)]
    return best, all(w in WEAK_WORDS for w in words_for_best), all(w in ABBREVIATIONS for w in words_for_best)


def loop_hint(path: str) -> str | None:
    """What the name says about loop vs one-shot: "loop" (strong: "loop" in the file name, a
    "90bpm" tag, a folder called Loops), "loopish" (weak: beat/break/groove, which kit and sample
    names also use), "one-shot", or None."""
    stem, folders = _stem_and_folders(path)
    stem_words = set(tokens(stem))
    if stem_words & {"loop", "loops"} or _BPM_EXPLICIT.search(stem) or any(
            set(tokens(f)) & {"loop", "loops"} for f in folders[:2]):
        return "loop"
    if stem_words & {"oneshot", "oneshots", "hit", "hits", "shot"} or any(
            set(tokens(f)) & {"oneshot", "oneshots", "hits"} for f in folders[:2]):
        return "one-shot"
    if (stem_words | {w for f in folders[:1] for w in tokens(f)}) & _LOOP_WORDS:
        return "loopish"
    return None


def category_from_name(path: str, is_loop: bool) -> tuple[str, float, str] | None:
    stem, folders = _stem_and_folders(path)
    weak: tuple[str, float, str] | None = None
    for text, source, confidence in [(stem, "name", 0.95)] + [(f, "folder", 0.85) for f in folders]:
        words = tokens(text)
        if not words:
            continue
        if is_loop:
            if {"vocal", "vox", "voice", "acapella", "chant"} & set(words):
                return "vocal-loop", confidence, source
            if _DRUM_WORDS & set(words):
                return "drum-loop", confidence, source
            found = _category_from_words(words)
            if found and found[0] in ("bass", "808", "keys/melodic", "pad"):
                return "melodic-loop", confidence, source
            if found and found[0] != "fx":
                return "drum-loop", confidence * 0.9, source
            continue
        found = _category_from_words(words)
        if not found:
            continue
        category, only_weak, only_abbreviations = found
        if (category == "bass" and source == "name" and not set(words) & _TONAL_BASS_WORDS
                and any(set(tokens(f)) & {"drum", "drums", "drumkit", "kit"} for f in folders[:2])):
            category = "kick"  # "drums/nasty_bass01": in a drum kit, a bare "bass" is the bass drum
        if only_abbreviations:  # "BD_01" is surer inside "Kicks/"
            agreed = any((_category_from_words(tokens(f)) or ("",))[0] == category for f in folders)
            confidence = min(confidence, 0.9 if agreed else 0.75)
        if only_weak:  # "synth_acid" in a "basses" folder is a bass: look further, keep this as fallback
            weak = weak or (category, min(confidence, 0.7), source)
            continue
        return category, confidence, source
    return weak


def names_a_pad(path: str) -> bool:
    """The name or a folder says pad, drone, strings or atmosphere: sustained sounds, not loops."""
    found = category_from_name(path, is_loop=False)
    return bool(found) and found[0] == "pad"


def names_a_drum(path: str) -> bool:
    """The file's own name says which drum it is (so a long decay is not a loop)."""
    found = _category_from_words(tokens(_stem_and_folders(path)[0]))
    return bool(found) and found[0] in ("kick", "snare", "clap", "rim", "hat-closed", "hat-open", "cymbal", "tom")


# words that tell layers of one drum apart: dynamics, velocity, round robin, take ("soft4", "Hardest")
LAYER_WORDS = {"soft", "softer", "softest", "med", "medium", "normal", "norm", "hard", "harder", "hardest", "loud",
               "louder", "loudest", "quiet", "ghost", "accent", "pp", "ppp", "p", "mp", "mf", "f", "ff", "fff",
               "vel", "velocity", "layer", "rr", "take", "var"}

# categories one instrument word may rightly stand for: an "808" is the kick or the bass it is tuned
# as, and a hat that says neither open nor closed is either hat
_ALSO = {"808": {"kick", "bass"}, "bass": {"808"}}


@functools.lru_cache(maxsize=1 << 16)  # a kit's resolution asks of every candidate's name more than once
def names_instrument(text: str) -> tuple[str, str] | None:
    """What one name (a file's stem, or a folder) says the sound is: (category, how), how being
    "word" ("Kick", "snare"), "abbreviation" ("BD", "CHH": a guess) or "weak" (a style more than an
    instrument: "synth", "noise", "crowd"). None when it names no instrument ("beats_01-20")."""
    found = _category_from_words(tokens(text))
    if not found:
        return None
    category, only_weak, only_abbreviations = found
    return category, "weak" if only_weak else "abbreviation" if only_abbreviations else "word"


def name_agrees(text: str, category: str | None) -> bool | None:
    """Whether a name agrees with a category the analysis gave the sound: None when the name names
    no instrument. A name with two meanings agrees with either ("CB": cowbell or crash; "HH2": either
    hat), so only a name that says something else disagrees ("nasty_bass01" as a kick)."""
    named = names_instrument(text)
    if named is None:
        return None
    said = named[0]
    if said == category or category in _ALSO.get(said, ()):
        return True
    words = tokens(text)
    if said in HATS and category in HATS and _hat_state(words) is None:
        return True
    return any(category in AMBIGUOUS.get(w, ()) for w in words)
