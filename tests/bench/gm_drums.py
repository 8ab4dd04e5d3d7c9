"""Build a labelled drum set from material sp404d is not measured on: General MIDI drum kits.

    python tests/bench/gm_drums.py OUT [--velocities 110 64]

A GM sound font's drum kits put each instrument on a fixed key (35 and 36 kick, 37 side stick,
38 and 40 snare, 39 clap, 42 closed hat ...), so every note it plays carries its truth in the
standard itself, not in anything we chose. Each drum kit (bank 128) of the non-reserved Debian
sound fonts is played one note at a time by fluidsynth, and each hit is cut into its own WAV:
OUT/<font>/<kit>/<key>_<instrument>_v<velocity>.wav, with OUT/truth.json mapping each file to
the category tags.category_from_name gives the GM instrument name (as corpus_truth labels a
Hydrogen instrument). (Sonic Pi's samples were tried and left out: their
names say "cymbal closed" for a hi-hat and "perc" for a door.) Identical renders (a kit that reuses the standard kit's sample) are kept
once.

This is the training set for the similarity projection (fit_similar.py). It is never the set the
projection is measured on: bench_similar.py measures on the dev corpus's Hydrogen kits.
Reserved material is not touched: fluid-soundfont-gm (and fluidr3mono, a copy of it) is not read.

Needs: apt-get install fluidsynth timgm6mb-soundfont musescore-general-soundfont-small
csound-soundfont
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import struct
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(Path(__file__).resolve().parent)]

from corpus_truth import named_category  # noqa: E402

FONTS = {
    "timgm6mb": Path("/usr/share/sounds/sf2/TimGM6mb.sf2"),
    "csound": Path("/usr/share/sounds/sf2/sf_GMbank.sf2"),
    "musescore": Path("/usr/share/sounds/sf3/MuseScore_General_Lite.sf3"),
}
GM_DRUMS = {
    35: "Acoustic Bass Drum", 36: "Bass Drum 1", 37: "Side Stick", 38: "Acoustic Snare", 39: "Hand Clap",
    40: "Electric Snare", 41: "Low Floor Tom", 42: "Closed Hi-Hat", 43: "High Floor Tom", 44: "Pedal Hi-Hat",
    45: "Low Tom", 46: "Open Hi-Hat", 47: "Low-Mid Tom", 48: "Hi-Mid Tom", 49: "Crash Cymbal 1", 50: "High Tom",
    51: "Ride Cymbal 1", 52: "Chinese Cymbal", 53: "Ride Bell", 54: "Tambourine", 55: "Splash Cymbal",
    56: "Cowbell", 57: "Crash Cymbal 2", 59: "Ride Cymbal 2", 60: "Hi Bongo", 61: "Low Bongo",
    62: "Mute Hi Conga", 63: "Open Hi Conga", 64: "Low Conga", 65: "High Timbale", 66: "Low Timbale",
    67: "High Agogo", 68: "Low Agogo", 69: "Cabasa", 70: "Maracas", 73: "Short Guiro", 74: "Long Guiro",
    75: "Claves", 76: "Hi Wood Block", 77: "Low Wood Block", 80: "Mute Triangle", 81: "Open Triangle",
}
# kits that do not keep the GM map: effects on the drum keys, marching drums on every key, timpani
# on the tom keys, a metronome
OFF_MAP_KITS = re.compile(r"SFX|March|Orchestra|Metronome", re.IGNORECASE)
SR = 44100
SLOT_S = 4.0        # each note gets this long before the next: the longest crash has died by then
TAIL_DB = -60.0     # a hit ends where its level stays this far below its peak
SILENT_PEAK = 1e-3  # a key the kit leaves empty renders (near) silence


def _vlq(n: int) -> bytes:
    out = [n & 0x7F]
    while n > 0x7F:
        n >>= 7
        out.append(0x80 | (n & 0x7F))
    return bytes(reversed(out))


def midi_file(program: int, keys: list[int], velocity: int) -> bytes:
    """A one-track SMF: the drum channel (10) set to `program` (a kit), then each key once, SLOT_S apart."""
    ticks = 480  # per quarter at the default 120 BPM: 960 ticks a second
    slot = int(SLOT_S * 960)
    ev = bytearray(b"\x00\xc9" + bytes([program]))
    for i, k in enumerate(keys):
        ev += _vlq(slot if i else 960) + bytes([0x99, k, velocity])
        ev += _vlq(96) + bytes([0x89, k, 0])
    ev += _vlq(slot) + b"\xff\x2f\x00"
    return b"MThd" + struct.pack(">IHHH", 6, 0, 1, ticks) + b"MTrk" + struct.pack(">I", len(ev)) + bytes(ev)


def drum_kits(font: Path) -> dict[int, str]:
    """program -> kit name, for the font's bank-128 presets, read from fluidsynth's shell."""
    out = subprocess.run(["fluidsynth", "-n", "-a", "file", "-o", "audio.file.name=/dev/null", str(font)],
                         input="inst 1\nquit\n", capture_output=True, text=True, timeout=120).stdout
    kits = {}
    for line in out.splitlines():
        m = re.match(r"^128-(\d{3}) (.+)$", line.strip())
        if m:
            kits[int(m.group(1))] = m.group(2).strip()
    return kits


def render(font: Path, program: int, keys: list[int], velocity: int, work: Path) -> np.ndarray:
    mid, wav = work / "notes.mid", work / "notes.wav"
    mid.write_bytes(midi_file(program, keys, velocity))
    subprocess.run(["fluidsynth", "-ni", "-g", "0.5", "-r", str(SR), "-o", "synth.reverb.active=0",
                    "-o", "synth.chorus.active=0", "-F", str(wav), "-T", "wav", str(font), str(mid)],
                   check=True, capture_output=True, timeout=600)
    y, _ = sf.read(wav, dtype="float32", always_2d=True)
    return y.mean(axis=1)


def cut(y: np.ndarray, i: int) -> np.ndarray | None:
    """The i-th note's hit, from its onset to where it has died away; None for an empty key."""
    start = int((1.0 + i * SLOT_S) * SR)
    seg = y[start: start + int(SLOT_S * SR)]
    peak = float(np.abs(seg).max()) if seg.size else 0.0
    if peak < SILENT_PEAK:
        return None
    loud = np.nonzero(np.abs(seg) > peak * 10 ** (TAIL_DB / 20))[0]
    return seg[max(0, loud[0] - 32): loud[-1] + 1]


def label(name: str) -> str | None:
    """The GM instrument's category, as corpus_truth labels a Hydrogen instrument; a name sp404d
    reads only as a guess ("Hi Wood Block": perc at 0.7) is left out."""
    found = named_category(name)
    return found[0] if found and found[1] >= 0.9 else None


def build(out: Path, velocities: list[int]) -> dict[str, str]:
    truth: dict[str, str] = {}
    seen: set[str] = set()
    keys = sorted(GM_DRUMS)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for font_name, font in FONTS.items():
            if not font.exists():
                print(f"skipping {font_name}: {font} is not installed", file=sys.stderr)
                continue
            for program, kit in sorted(drum_kits(font).items()):
                if OFF_MAP_KITS.search(kit):
                    continue
                kit_dir = out / font_name / re.sub(r"[^A-Za-z0-9]+", "_", f"{program:03d}_{kit}")
                for vel in velocities:
                    y = render(font, program, keys, vel, work)
                    for i, k in enumerate(keys):
                        hit, cat = cut(y, i), label(GM_DRUMS[k])
                        if hit is None or cat is None:
                            continue
                        digest = hashlib.sha1(np.round(hit / np.abs(hit).max(), 3).tobytes()).hexdigest()
                        if digest in seen:  # the same sample as another kit's (or a velocity's) render
                            continue
                        seen.add(digest)
                        f = kit_dir / f"{k}_{re.sub(r'[^A-Za-z0-9]+', '_', GM_DRUMS[k])}_v{vel}.wav"
                        f.parent.mkdir(parents=True, exist_ok=True)
                        sf.write(f, hit, SR, subtype="PCM_16")
                        truth[str(f.relative_to(out))] = cat
                print(f"{font_name} {kit}: {sum(1 for p in truth if p.startswith(str(kit_dir.relative_to(out))))} hits",
                      file=sys.stderr)
    return truth


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("out", type=Path)
    ap.add_argument("--velocities", type=int, nargs="+", default=[110, 64])
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    truth = build(args.out, args.velocities)
    (args.out / "truth.json").write_text(json.dumps(truth, indent=1, sort_keys=True) + "\n")
    counts: dict[str, int] = {}
    for c in truth.values():
        counts[c] = counts.get(c, 0) + 1
    print(f"{len(truth)} labelled hits: " + ", ".join(f"{c} {n}" for c, n in sorted(counts.items(), key=lambda x: -x[1])))


if __name__ == "__main__":
    main()
