"""Leaf module: error types and the vocabularies shared across the data path.

Imports nothing from the project, so any module may use it.
"""

from enum import Enum, IntEnum


class FailureCategory(str, Enum):
    """Why a file could not be recorded. Stored in the library; stable names."""

    UNREADABLE = "unreadable"    # permission denied, I/O error, vanished
    EMPTY = "empty"              # zero bytes
    UNSUPPORTED = "unsupported"  # not an audio format we can decode (or needs ffmpeg)
    CORRUPT = "corrupt"          # looks like audio but the data is broken or truncated
    TOO_LARGE = "too-large"      # over [analysis] max_file_mb
    TIMEOUT = "timeout"          # the worker took longer than [analysis] timeout_seconds
    CRASH = "crash"              # the worker process died on this file


class ErrorCode(IntEnum):
    """Numbered codes in control-socket error replies."""

    BAD_REQUEST = 1      # not a word or a JSON object
    UNKNOWN_COMMAND = 2
    BAD_ARGUMENT = 3
    LINE_TOO_LONG = 4
    TOO_MANY_CLIENTS = 5
    NOT_FOUND = 6
    INTERNAL = 99


class Sp404dError(Exception):
    """An error a user can cause and fix; the CLI prints it as one line."""

    exit_code = 1


class UsageError(Sp404dError):
    """A command's argument is not one it takes (a query it cannot parse, a pad 17): exit 2, as
    argparse exits for the arguments it checks itself."""

    exit_code = 2


class DaemonRefused(Sp404dError):
    """The daemon answered a request with an error: its message is the user's one line; `code`
    (control.protocol.ErrorCode) is there for programs."""

    def __init__(self, message: str, code: int | None = None, exit_code: int | None = None):
        super().__init__(message)
        self.code = code
        if isinstance(exit_code, int) and 1 <= exit_code <= 125:
            self.exit_code = exit_code  # as the CLI exits for the same error without a daemon


class ConfigError(Sp404dError):
    exit_code = 78  # EX_CONFIG


class DaemonNotRunning(Sp404dError):
    exit_code = 3  # LSB: program is not running


class LibraryBusy(Sp404dError):
    """Another process holds the library's single-instance lock."""

    exit_code = 75  # EX_TEMPFAIL


class WorkersFailed(Sp404dError):
    """The analysis worker processes could not start (a broken install): nothing can be analysed."""

    exit_code = 69  # EX_UNAVAILABLE


class AnalysisFailed(Exception):
    """Raised inside a worker: the file cannot be analysed, for a known reason."""

    def __init__(self, category: FailureCategory, message: str):
        super().__init__(message)
        self.category = category
        self.message = message


def failure_category(value: str | None) -> str | None:
    """`value` when it names a FailureCategory (None stays None), else a one-line error."""
    known = [c.value for c in FailureCategory]
    if value is not None and value not in known:
        raise UsageError(f"unknown failure category {value!r} (categories: {', '.join(known)})")
    return value
