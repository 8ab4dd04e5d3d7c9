"""librosa's filter banks, cached on disk.

The analysis needs three small matrices from librosa (a mel bank, a chroma bank, and the
fingerprint's mel bank: 0.6 MB together). Importing librosa.filters to build them costs a process
~130 MB for good (numba, llvmlite, SciPy), which every worker would pay. So they are built once, in
a short-lived process, and saved in the user's cache folder; workers load the file. librosa stays
the definition: the cache is keyed by its version and by the parameters below.

    python -m sp404d.analysis.banks      # build the cache (the pool does it when it is missing)
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from functools import lru_cache
from importlib import metadata
from pathlib import Path

import numpy as np
import platformdirs

SPECS = {
    "mel": ("mel", {"sr": 22050, "n_fft": 2048, "n_mels": 128}),
    "chroma": ("chroma", {"sr": 22050, "n_fft": 2048, "tuning": 0.0}),
    "fingerprint_mel": ("mel", {"sr": 11025, "n_fft": 512, "n_mels": 17, "fmin": 80.0, "fmax": 5000.0}),
}


def path() -> Path:
    key = hashlib.sha256((metadata.version("librosa") + json.dumps(SPECS, sort_keys=True)).encode()).hexdigest()[:16]
    return Path(platformdirs.user_cache_dir("sp404d")) / f"filter-banks-{key}.npz"


def build() -> dict[str, np.ndarray]:
    import librosa

    banks = {name: getattr(librosa.filters, kind)(**args).astype(np.float32) for name, (kind, args) in SPECS.items()}
    target = path()
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f"{target.name}.{os.getpid()}.tmp")
        with open(tmp, "wb") as f:
            np.savez_compressed(f, **banks)
        os.replace(tmp, target)
    except OSError:  # a read-only home: every process builds its own, as before
        pass
    return banks


@lru_cache(maxsize=1)
def load() -> dict[str, np.ndarray]:
    try:
        with np.load(path()) as data:
            return {name: data[name] for name in SPECS}
    except (OSError, KeyError, ValueError):
        return build()


def ensure() -> None:
    """Build the cache in a child process if it is missing, so no long-lived process imports librosa."""
    if path().exists():
        return
    from sp404d import logs

    logs.get("analysis").info("building the filter banks once (the first start after an install: librosa compiles "
                              "its numba functions, about 12 s)", cache=str(path()))
    subprocess.run([sys.executable, "-m", "sp404d.analysis.banks"], capture_output=True, timeout=300)


if __name__ == "__main__":
    build()
