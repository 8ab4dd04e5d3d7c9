"""How well a sound fits a kit pad: pure functions of a search row (its path and analysis).

A sound does not fit at all when its own file name names another instrument than its category
("vox_hey" as a kick, whatever the audio said), when it is silent, or when its length is outside its role's limits
(LENGTHS: no 10 s crowd on a vocal pad, no 3 s "kick"). Otherwise its score, from 0 to 1, weighs
in this order of importance:

  agreement   0.45  the file's own name names its category (1.0; an abbreviation such as "BD" 0.85,
                    a style word such as "crowd" 0.7); else the nearest folder that names an
                    instrument names it (0.6); else only the audio said it (0.3); a style word or a
                    folder that names something else 0.15
  confidence  0.20  the category's confidence
  length      0.20  1 inside the role's typical length, falling (in log time) to 0 at its limits
  level       0.15  1 for a clean hit at a usable loudness, 0 when clipped, less when quiet

A sound's *drum identity* is its folder and its name without layer words (velocity, round robin,
index): "bassdrum-4mics-br-stereo-soft4" and "-normal3" are two layers of one drum, so a kit never
takes both; "kick01" and "kick02" (a number inside the word) stay two drums, and so do names that
name no instrument once the layer words are gone ("beats_01-20", "beats_01-21": slices of a kit).
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass

from sp404d.analysis import tags

WEIGHTS = {"agreement": 0.45, "confidence": 0.20, "length": 0.20, "level": 0.15}
AGREEMENT = {"word": 1.0, "abbreviation": 0.85, "weak": 0.7, "folder": 0.6, "audio": 0.3, "other": 0.15}

# seconds: (shortest usable, typical from, typical to, longest usable), per category of a one-shot.
# Measured against the dev corpus's named one-shots; a hit's file may carry some silence after it.
LENGTHS = {
    "kick":         (0.08, 0.15, 1.0, 1.5),
    "snare":        (0.06, 0.10, 0.8, 1.5),
    "clap":         (0.05, 0.10, 0.8, 1.5),
    "rim":          (0.02, 0.04, 0.4, 1.0),
    "hat-closed":   (0.03, 0.05, 0.5, 1.0),
    "hat-open":     (0.15, 0.30, 2.0, 3.0),
    "cymbal":       (0.25, 0.80, 6.0, 8.0),
    "tom":          (0.10, 0.20, 1.2, 2.0),
    "perc":         (0.03, 0.05, 1.0, 2.0),
    "808":          (0.20, 0.40, 2.0, 3.0),
    "bass":         (0.10, 0.20, 2.0, 4.0),
    "vocal":        (0.15, 0.30, 2.0, 3.0),
    "fx":           (0.05, 0.15, 3.0, 5.0),
    "keys/melodic": (0.10, 0.30, 3.0, 6.0),
    "pad":          (0.50, 1.00, 8.0, 16.0),
}
SILENT_DBFS = -60.0
QUIET = {"lufs": (-45.0, -28.0), "peak": (-30.0, -12.0)}  # level 0 at the first, 1 from the second
CLIPPED = (10, 0.0005)  # more full-scale samples than this many, and this share of all samples


@dataclass(frozen=True)
class Fit:
    score: float | None   # None: the sound does not fit a pad
    note: str             # how it was judged ("name says kick"), or why it does not fit


def fit(row: dict) -> Fit:
    category, duration = row.get("category"), row.get("duration") or 0.0
    peak = row.get("peak_dbfs")
    if peak is None or peak < SILENT_DBFS:
        return Fit(None, "silent")
    how, said = agreement(row["path"], category, loop_source=row.get("category_source", "") if row.get("kind") == "loop"
                          else None)
    if how is None:
        return Fit(None, f"its name says {said}")
    limits = LENGTHS.get(category) if row.get("kind") != "loop" else None
    if limits and not limits[0] <= duration <= limits[3]:
        return Fit(None, f"too {'short' if duration < limits[0] else 'long'} for {category} ({duration:.2f} s)")
    parts = {"agreement": AGREEMENT[how], "confidence": row.get("category_confidence") or 0.0,
             "length": length_fit(duration, limits), "level": level(row)}
    score = round(sum(WEIGHTS[k] * v for k, v in parts.items()), 4)
    note = {"word": f"name says {category}", "abbreviation": f"name says {category}", "weak": f"name hints {category}",
            "folder": f"folder says {category}", "audio": f"sounds like {category}",
            "other": f"sounds like {category}"}[how]
    return Fit(score, note + ("" if parts["level"] else ", clipped"))


def agreement(path: str, category: str | None, loop_source: str | None = None) -> tuple[str | None, str]:
    """(how the names back the category: a key of AGREEMENT, or None when the file's own name
    contradicts it; what the name says). A loop's category is a family (drum-loop, melodic-loop)
    that instrument words do not contradict: where it came from (`loop_source`) says enough."""
    folder, name = os.path.split(path)
    stem = os.path.splitext(name)[0]
    if loop_source is not None:
        return {"name": "word", "folder": "folder"}.get(loop_source, "audio"), ""
    agrees = tags.name_agrees(stem, category)
    if agrees is not None:
        said, how = tags.names_instrument(stem)
        if agrees:
            return how, said
        return (None, said) if how != "weak" else ("other", said)
    for _ in range(3):
        folder, part = os.path.split(folder)
        if not part:
            break
        agrees = tags.name_agrees(part, category)
        if agrees is not None:
            return ("folder" if agrees else "other"), part
    return "audio", ""


def length_fit(duration: float, limits: tuple[float, float, float, float] | None) -> float:
    if limits is None:
        return 1.0
    low, lo, hi, high = limits
    if lo <= duration <= hi:
        return 1.0
    if duration < lo:
        return max(0.0, math.log(max(duration, 1e-3) / low) / math.log(lo / low))
    return max(0.0, math.log(high / duration) / math.log(high / hi))


def level(row: dict) -> float:
    """1 for a clean hit at a usable loudness; 0 when clipped; falling with quietness."""
    frames = (row.get("duration") or 0.0) * (row.get("samplerate") or 44100) * (row.get("channels") or 1)
    clipped = row.get("clipped_samples") or 0
    if clipped > CLIPPED[0] and clipped > CLIPPED[1] * frames:
        return 0.0

    def ramp(value: float | None, bounds: tuple[float, float]) -> float:
        if value is None:
            return 0.5
        return min(1.0, max(0.0, (value - bounds[0]) / (bounds[1] - bounds[0])))
    return min(ramp(row.get("loudness_lufs"), QUIET["lufs"]), ramp(row.get("peak_dbfs"), QUIET["peak"]))


# a layer, velocity or round-robin index ("01", "v3", "rr2", "_b")
_LAYER_TOKEN = re.compile(r"(?:v|vel|velocity|rr|layer|take|var)?\d+|[a-d]")
_WORD = re.compile(r"[A-Za-z]+\d*|\d+")  # "soft4" and "kick01" stay one word
_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])")  # "BongoHi-Hard": bongo, hi, hard


def identity(path: str) -> tuple[str, tuple[str, ...]]:
    """(folder, name words that are not layer words): equal for the layers of one drum."""
    folder, name = os.path.split(path)
    stem = os.path.splitext(name)[0]
    words = []
    for part in re.split(r"[^A-Za-z0-9]+", stem):
        words.extend(w.lower() for w in _WORD.findall(_CAMEL.sub(" ", part)))
    kept = tuple(w for w in words if not _LAYER_TOKEN.fullmatch(w) and w.rstrip("0123456789") not in tags.LAYER_WORDS)
    if not kept or tags.names_instrument(" ".join(kept)) is None:
        return folder, tuple(words)  # "beats_01-20": numbered slices, not layers of one named drum
    return folder, kept
