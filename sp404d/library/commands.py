"""Typed commands for the writer thread. Plain data: whoever builds one does no DB work."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field


@dataclass(frozen=True)
class FileStat:
    path: str
    size: int
    mtime_ns: int


@dataclass(frozen=True)
class RecordResult:
    """A file was decoded: record its sample (new or existing) and its location."""

    file: FileStat
    byte_hash: str
    result: dict
    job: object = None  # the intake Job this belongs to, if any


@dataclass(frozen=True)
class RecordCopy:
    """A file is byte-identical to a file the library already has: a new location, no decode."""

    file: FileStat
    byte_hash: str
    job: object = None  # the intake Job this belongs to, if any


@dataclass(frozen=True)
class RecordFailure:
    file: FileStat
    category: str
    message: str
    job: object = None  # the intake Job this belongs to, if any
    analysis_version: int | None = None  # set when an analyser (not intake) failed it


@dataclass(frozen=True)
class MoveLocation:
    """A file was renamed or moved: no re-analysis (a rename keeps size and mtime). Decided by
    the writer, in order with everything queued before it: if src is unknown, dest is new."""

    src: str
    dest: str


@dataclass(frozen=True)
class MoveTree:
    """A folder was renamed: every location under src_dir now lives under dest_dir."""

    src_dir: str
    dest_dir: str


@dataclass(frozen=True)
class MarkMissing:
    """Files that are gone: their locations are kept as missing, their failures forgotten (a file
    that no longer exists has nothing left to report, nor to retry)."""
    paths: tuple[str, ...] = ()
    under: str | None = None  # a deleted folder: every location below it


@dataclass(frozen=True)
class StartRun:
    kind: str
    reply: "Reply"


@dataclass(frozen=True)
class FinishRun:
    run_id: int
    counters: dict


@dataclass
class Reply:
    """A one-shot answer from the writer to whoever waits (import run ids, barriers)."""

    event: threading.Event = field(default_factory=threading.Event)
    value: object = None

    def set(self, value=None) -> None:
        self.value = value
        self.event.set()

    def wait(self, timeout: float | None = None) -> object:
        if not self.event.wait(timeout):
            raise TimeoutError("the writer did not answer in time")
        return self.value


@dataclass(frozen=True)
class Barrier:
    """Answered once everything queued before it is committed. Ends the batch being gathered:
    whoever asks is waiting."""

    reply: Reply


@dataclass(frozen=True)
class Drained:
    """Intake has nothing more in flight: commit what is gathered now rather than wait out the
    batch window (the last results of an import otherwise waited up to 200 ms)."""


@dataclass(frozen=True)
class EditKit:
    """Create a kit, set one pad of it (a query, or a pinned sample; neither clears the pad), or
    delete what the library holds of it.
    Checked by whoever builds it (names, queries, that the sample exists); the writer applies."""

    name: str
    reply: Reply
    filter: str | None = None
    pad: int | None = None
    query: str | None = None
    sample_id: int | None = None
    pins: tuple[tuple[int, int], ...] = ()  # (pad, sample_id) pinned together: `kit fill`
    report: tuple[dict, ...] = ()           # what the edit chose, for the reply (the writer ignores it)
    create: bool = True                     # make the kit in the library if it is only in the config
    delete: bool = False                    # remove the kit's library rows (a config kit keeps its config)


@dataclass(frozen=True)
class RegisterSource:
    """Files under `root` came from `label` (a card's EXPORT folder, an ingested volume)."""

    label: str
    root: str
    kind: str
