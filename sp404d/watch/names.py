"""Which names are worth looking at. Pure string decisions, no I/O.

A drop folder holds more than audio (readmes, artwork, project files): only names with an audio
extension are candidates; what they really contain is sniffed later, by content. Temporary
names of copies in progress and OS litter are never candidates.
"""

from __future__ import annotations

import os

AUDIO_EXTENSIONS = frozenset({
    ".wav", ".wave", ".bwf", ".rf64", ".w64", ".flac", ".ogg", ".oga", ".opus", ".aif", ".aiff", ".aifc",
    ".mp3", ".m4a", ".mp4", ".aac", ".caf",
})
TEMP_SUFFIXES = (".part", ".crdownload", ".tmp", ".temp", ".download", ".partial", ".swp", "~")
JUNK_NAMES = frozenset({".DS_Store", "Thumbs.db", "desktop.ini", "Icon\r"})
# files an audio editor writes beside the audio it opens (Ableton's analysis, Reaper's, Audition's,
# Sound Forge's and WaveLab's peaks): in a sample library an editor reads from, each preview makes
# one, and telling the user of every one would bury the drops that matter
SIDECAR_EXTENSIONS = frozenset({".asd", ".reapeaks", ".pk", ".pkf", ".sfk", ".gpk", ".peak"})


def is_junk(name: str) -> bool:
    """Hidden files, macOS resource forks (._x), and in-progress downloads or copies."""
    return name.startswith(".") or name in JUNK_NAMES or name.lower().endswith(TEMP_SUFFIXES)


def is_litter(path: str) -> bool:
    """Not worth a word to the user: junk, an editor's sidecar file, or anything inside a hidden
    folder (.git, .Trash)."""
    parts = path.split(os.sep)
    return (is_junk(parts[-1]) or os.path.splitext(parts[-1])[1].lower() in SIDECAR_EXTENSIONS
            or any(is_hidden_dir(p) for p in parts[:-1] if p))


def is_candidate(path: str) -> bool:
    name = os.path.basename(path)
    return not is_junk(name) and os.path.splitext(name)[1].lower() in AUDIO_EXTENSIONS


def is_hidden_dir(name: str) -> bool:
    return name.startswith(".")
