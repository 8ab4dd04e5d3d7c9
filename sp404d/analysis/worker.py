"""The function a worker process runs: a path in, a plain dict out. No DB, no shared state.

Everything the writer needs travels in the result, so a worker can crash or be replaced without
the daemon losing track: the pool records the crash for that one path.
"""

from __future__ import annotations

import os
import stat as stat_mod
import time

import numpy as np

from sp404d.analysis import fingerprint, signature
from sp404d.analysis.decode import Decoded, decode
from sp404d.analysis.describe import analysis_signal, describe
from sp404d.analysis.spectra import SR as ANALYSIS_RATE
from sp404d.errors import AnalysisFailed, FailureCategory

# Bumped whenever the analysis changes what it stores; samples of an older version are re-analysed.
# 3: near-duplicate fingerprint and index key.
# 4: categories: pad/drone names keep sustained sounds one-shots, a bare "bass" in a drum kit is a
#    kick, "CB" is settled by the sound; spectral features computed with scipy's FFT.
# 5: a snare rimshot is a snare; a hi-hat name that says neither open nor closed (or half-open) is
#    settled by the sound; the audio model hears each band's decay and the hit's and body's spectrum
#    (held-out-kit accuracy 53 % -> 60 %), retrained on the corrected labels; an ACID loop claim
#    whose beats do not fit the file's length is ignored.
# 6: the audio model also hears the hit's envelope at 2.9 ms steps and the body's spectrum by octave
#    (held-out-kit accuracy 62.9 % -> 64.6 %), trained without the labels of key-slot kits.
# 7: a waveform signature (signature.py) beside the fingerprint: near duplicates are confirmed by
#    the waveform, and the groups an older analyser made are made again.
# 8: music it has never heard (issue 16): chords of one-shots from notes found by harmonic summation
#    on a long FFT (root and quality of strums and inversions, a single note keeps scale None); no key
#    without prominent partials (noise, drums, crowds); a steady tone is a note, never a drum; drum-kit
#    abbreviations (CC, RC, FT/HT/MT/LT, KD, XS); a hand drum's "bass" stroke is percussion; the tempo
#    octave from where kick and hats recur, with the runner-up kept as bpm_alt.
# 9: a vector per sound (embedding.py: timbre, envelope, pitch) for "more like this"; a library
#    analysed before it gets its vectors by re-analysis; a loop whose chroma is flat gets no key.
# 10: no key on a one-shot the audio hears as more drum than instrument (a djembe's ringing bass
#    tone); an ambiguous drum name ("HH") keeps its usual meaning unless the sound clearly says otherwise;
#    a one- or two-bar excerpt of dense music that holds its level to its end is a loop, and its
#    tempo comes from whole bars on fainter support than a longer loop needs.
#    The vector also hears the hit's level at fixed times after its peak, its mel spectrum and its
#    strongest partial (embedding.VERSION 3): claps and rims find their own kind more often.
# 11: "808" beside another instrument's name is the drum machine, not the 808 bass: 808_Cowbell is
#    percussion (it was "808", with a key, and `kit fill` offered it as the kit's 808).
ANALYSIS_VERSION = 11


def identity(d: Decoded, y=None) -> dict:
    """What near-duplicate matching needs: the fingerprint and its index key (to find candidates),
    the waveform signature (to confirm them: the writer must not decode), and the quality facts
    that choose a group's canonical member. Computed here, so the writer only compares. `y`: the
    analysis signal (describe.analysis_signal, 22,050 Hz, the signature's rate), resampled once."""
    y = np.ascontiguousarray(analysis_signal(d) if y is None else y, dtype=np.float32)
    level = np.abs(y)  # both find the onset on it
    f = fingerprint.compute(y, ANALYSIS_RATE, level)
    s = signature.compute(y, ANALYSIS_RATE, level) if f else None
    return {
        "fingerprint": f.pack() if f else None,
        "fp_key": fingerprint.pack_key(f.duration, fingerprint.coarse(f)) if f else None,
        "signature": s.pack() if s else None,
        "lossless": d.bit_depth is not None,
    }


def failure(category: FailureCategory, message: str) -> dict:
    return {"ok": False, "category": category.value, "message": message, "analysis_version": ANALYSIS_VERSION}


def analyse(path: str, max_bytes: int = 2048 << 20, use_names: bool = True) -> dict:
    """Decode `path` once and describe it. Never raises for a bad file: returns a failure dict.
    `use_names=False` ignores what names and folders say (the accuracy benchmark's blind mode)."""
    started = time.perf_counter()
    try:
        st = os.stat(path)
        if not stat_mod.S_ISREG(st.st_mode):
            return failure(FailureCategory.UNREADABLE, "not a regular file")
        if st.st_size == 0:
            return failure(FailureCategory.EMPTY, "the file is empty (0 bytes)")
        if st.st_size > max_bytes:
            return failure(FailureCategory.TOO_LARGE, f"{st.st_size} bytes is over the limit of {max_bytes}")
        d = decode(path)
        y = analysis_signal(d)
        described = describe(d, path, use_names, y)
        described.update(identity(d, y))
    except AnalysisFailed as e:
        return failure(e.category, e.message)
    except (PermissionError, FileNotFoundError, IsADirectoryError) as e:
        return failure(FailureCategory.UNREADABLE, e.strerror or str(e))
    except MemoryError:
        return failure(FailureCategory.TOO_LARGE, "out of memory while decoding")
    except OSError as e:
        return failure(FailureCategory.UNREADABLE, f"I/O error: {e.strerror or e}")
    except Exception as e:  # a decoder bug on a malformed file must not take the worker down
        return failure(FailureCategory.CORRUPT, f"{type(e).__name__}: {e}")
    return {
        "ok": True,
        "analysis_version": ANALYSIS_VERSION,
        "container": d.container,
        "decoder": d.decoder,
        "samplerate": d.samplerate,
        "channels": d.channels,
        "subtype": d.subtype,
        "bit_depth": d.bit_depth,
        "frames": d.frames,
        "duration": d.duration,
        "pcm_hash": d.pcm_hash,
        **described,
        "seconds": time.perf_counter() - started,
    }


# Why this worker's warm-up failed, if it did. The initializer does not raise (pebble would kill the
# worker and start another, forever); the pool's start-up probe asks for this instead.
_warm_up_error: str | None = None


def warm_up() -> None:
    """Run once in each worker at start, so the first real file pays no import or load cost."""
    global _warm_up_error
    try:
        _warm_up()
    except Exception as e:
        _warm_up_error = start_failure(e)


def ready() -> tuple[int, str | None]:
    """The pool's start-up probe: this worker's pid and why its warm-up failed (None: it did not)."""
    return os.getpid(), _warm_up_error


def start_failure(e: BaseException) -> str:
    """One line on why a worker could not start, naming a file the installed package lacks."""
    from pathlib import Path

    package = Path(__file__).resolve().parent.parent
    missing = getattr(e, "filename", None)
    if isinstance(e, FileNotFoundError) and missing and Path(missing).resolve().is_relative_to(package):
        return f"{Path(missing).name} missing from the installed package ({package}); reinstall sp404d"
    return f"{type(e).__name__}: {e}"


def _warm_up() -> None:
    import io

    import numpy as np
    import soundfile as sf

    buf = io.BytesIO()
    sf.write(buf, np.zeros(64, dtype=np.int16), 44100, format="WAV", subtype="PCM_16")
    buf.seek(0)
    sf.read(buf, dtype="int32")
    from sp404d.analysis import describe as describe_module

    describe_module.warm_up()
