"""Category truth for the dev corpus, independent of the file names sp404d reads.

Hydrogen kits ship a drumkit.xml naming the instrument each sample file belongs to
("BassDrum", "Hi-Hat Closed", "c#3 - stick"); the LMMS set is organised in folders by kind.
The instrument name (not the file name) is mapped onto sp404d's vocabulary; files whose
instrument name maps to nothing, or to one of two things ("Hi Hat Free", "Side HH": open or
closed?), are left out of the truth.

So is a kit whose instruments are named after the keys that play them ("c3 - bass drum 1",
"d#4 - cymbal 1", "f#4 - "): the General MIDI drum map laid over a keyboard, with any sound put
on any key. In the one such kit (rumpf_kit_z01_h2) the names are not what the sounds are: its
"cymbal 1", "cymbal 2" and "ride bell" have 0.0-0.2 % of their energy above 2 kHz (every other
cymbal and hat of the corpus has 3.8 % or more), and its "middle tom" and "high tom" ring at
32 Hz, below its own "bass drum 1" (54 Hz) and every other tom (65 Hz or more). `slot_named`
returns those labels, so that the benchmark can still show how sp404d fares against them;
`python tests/bench/corpus_truth.py CORPUS --audit` prints these measurements.
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


KEY_SLOT = re.compile(r"^[a-g]#?-?\d+ - ", re.IGNORECASE)


def names_key_slots(instruments: dict[str, str]) -> bool:
    """The kit names its instruments after keyboard keys ("b3 - low tom"), not after their sounds."""
    return any(KEY_SLOT.match(name) for name in instruments.values())


def slot_named(corpus: Path) -> dict[str, str]:
    """The labels of key-slot kits, left out of `truth` (see above)."""
    return _hydrogen(corpus, slot_kits=True)


def _hydrogen(corpus: Path, slot_kits: bool) -> dict[str, str]:
    labels: dict[str, str] = {}
    for kit in sorted((corpus / "hydrogen").glob("*")):
        instruments = hydrogen_instruments(HYDROGEN / kit.name)
        if names_key_slots(instruments) != slot_kits:
            continue
        for f in kit.iterdir():
            found = named_category(instruments.get(f.name) or "")
            if found:
                labels[str(f)] = found[0]
    return labels


def named_category(name: str) -> tuple[str, float] | None:
    """(category, confidence) an instrument's name says, as sp404d reads names; None when it says
    none, or one of two things ("Hi Hat Free": open or closed?)."""
    if not name or tags.ambiguous_name(f"/{name}.wav"):
        return None
    found = tags.category_from_name(f"/{name}.wav", is_loop=False)
    return (found[0], found[1]) if found else None


def truth(corpus: Path) -> dict[str, str]:
    labels = _hydrogen(corpus, slot_kits=False)
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


def audit(corpus: Path) -> None:
    """The evidence behind leaving key-slot kits out: for every label a sound's physics bounds
    (cymbals and hats have highs; a tom's body is not a sub-bass), the values over the truth and
    over the key-slot labels, side by side."""
    import numpy as np

    from sp404d.analysis import category
    from sp404d.analysis import spectra as sp
    from sp404d.analysis.decode import decode

    def measure(path: str) -> tuple[float, float]:
        d = decode(path)
        s = sp.compute(sp.to_analysis_rate(d.excerpt, d.samplerate))
        band = s.power.sum(axis=0)
        above_2k = float(band[sp.bins(2000, sp.SR)].sum() / max(float(band.sum()), 1e-20))
        return above_2k, category.envelope_shape(s)["body_low_peak_hz"]

    for title, labels in (("truth", truth(corpus)), ("key-slot kit labels", slot_named(corpus))):
        metal = {p: measure(p) for p, c in labels.items() if c in ("cymbal", "hat-open", "hat-closed")}
        toms = {p: measure(p) for p, c in labels.items() if c == "tom"}
        highs = np.array([v[0] for v in metal.values()])
        bodies = np.array([v[1] for v in toms.values()])
        print(f"{title}: {len(metal)} cymbals and hats, share of energy above 2 kHz: lowest {highs.min():.1%}, "
              f"median {np.median(highs):.1%}; {len(toms)} toms, body's lowest peak: lowest {bodies.min():.0f} Hz, "
              f"median {np.median(bodies):.0f} Hz")
        if title != "truth":
            for p, (above_2k, _) in sorted(metal.items()):
                print(f"  {labels[p]:>10} {Path(p).name}: {above_2k:.1%} above 2 kHz")
            for p, (_, body) in sorted(toms.items()):
                print(f"  {labels[p]:>10} {Path(p).name}: body at {body:.0f} Hz")


if __name__ == "__main__":
    import collections
    import sys

    if "--audit" in sys.argv:  # python tests/bench/corpus_truth.py CORPUS --audit
        audit(Path(sys.argv[1]))
    else:
        t = truth(Path(sys.argv[1]))
        print(len(t), collections.Counter(t.values()).most_common())
