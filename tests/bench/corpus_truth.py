"""Category truth for the dev corpus, independent of the file names sp404d reads.

Hydrogen kits ship a drumkit.xml naming the instrument each sample file belongs to
("BassDrum", "Hi-Hat Closed", "c#3 - stick"); the LMMS set is organised in folders by kind.
The instrument name (not the file name) is mapped onto sp404d's vocabulary; files whose
instrument name maps to nothing, or to one of two things ("Hi Hat Free", "Side HH": open or
closed?), are left out of the truth.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

from sp404d.analysis import tags

HYDROGEN = Path("/usr/share/hydrogen/data/drumkits")
LMMS_FOLDERS = {"beats": "drum-loop", "bassloops": "melodic-loop", "basses": "bass", "stringsnpads": "pad",
                "effects": "fx", "instruments": "keys/melodic", "latin": "keys/melodic"}
LMMS_FILE_OVERRIDES = {"nasty_bass01": "kick", "zap01": "fx", "zap02": "fx", "zap03": "fx", "wood01": "perc",
                       "clav01": "perc", "clav02": "perc", "shaker01": "perc", "shaker02": "perc", "shaker03": "perc",
                       # single slap-bass notes, filed among the "instruments" with the pianos and strings
                       "bassslap01": "bass", "bassslap02": "bass"}


def _strip(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def hydrogen_instruments(kit_dir: Path) -> dict[str, str]:
    """file name -> instrument name, from the kit's drumkit.xml."""
    xml = kit_dir / "drumkit.xml"
    if not xml.exists():
        return {}
    root = ET.parse(xml).getroot()
    out = {}
    for inst in root.iter():
        if _strip(inst.tag) != "instrument":
            continue
        name = next((c.text for c in inst if _strip(c.tag) == "name"), None) or ""
        for el in inst.iter():
            if _strip(el.tag) == "filename" and el.text:
                out[Path(el.text).name] = name
    return out


def truth(corpus: Path) -> dict[str, str]:
    labels: dict[str, str] = {}
    for kit in sorted((corpus / "hydrogen").glob("*")):
        instruments = hydrogen_instruments(HYDROGEN / kit.name)
        for f in kit.iterdir():
            name = instruments.get(f.name)
            if name and not tags.ambiguous_name(f"/{name}.wav"):
                found = tags.category_from_name(f"/{name}.wav", is_loop=False)
                if found:
                    labels[str(f)] = found[0]
    for f in sorted((corpus / "lmms").rglob("*")):
        if not f.is_file():
            continue
        folder = f.parent.name
        if f.stem in LMMS_FILE_OVERRIDES:
            labels[str(f)] = LMMS_FILE_OVERRIDES[f.stem]
        elif folder in LMMS_FOLDERS:
            labels[str(f)] = LMMS_FOLDERS[folder]
        elif folder == "drums":
            found = tags.category_from_name(f"/{f.stem}.wav", is_loop=False)
            if found:
                labels[str(f)] = found[0]
    return labels


def group_of(path: str) -> str:
    """What cross-validation holds out whole: a Hydrogen kit (its instruments share a player, a
    room and a recording chain), or in the LMMS set, whose folders gather unrelated instruments by
    kind, one instrument family (the name without its number: all of "space_strings01..03").
    Holding out a whole LMMS folder would hold out every pad, or every bass, there is."""
    p = Path(path)
    if p.parent.parent.name == "lmms":
        return f"lmms/{p.parent.name}/{re.sub(r'[0-9_]+$', '', p.stem)}"
    return f"{p.parent.parent.name}/{p.parent.name}"


if __name__ == "__main__":
    import collections
    import sys

    t = truth(Path(sys.argv[1]))
    print(len(t), collections.Counter(t.values()).most_common())
