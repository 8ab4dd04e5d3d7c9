"""structlog setup: readable lines on a terminal, JSON lines otherwise (journald, launchd logs).

One logger per subsystem: `get("watch")`, `get("writer")`, ... each line carries `subsystem`.
"""

import logging
import sys

import structlog

from sp404d import strictjson

_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR}


class _SafePrintLogger(structlog.PrintLogger):
    """A log line that cannot be written (the log's disk is full, its pipe closed) is dropped: the
    daemon must go on, and above all the writer thread must not die in its own error handler."""

    def msg(self, message: str) -> None:
        try:
            super().msg(message)
        except (OSError, ValueError):
            pass

    log = debug = info = warn = warning = msg
    fatal = failure = err = error = critical = exception = msg


def configure(level: str = "info", stream=None, json: bool | None = None) -> None:
    stream = stream or sys.stderr
    if json is None:
        json = not stream.isatty()
    renderer = structlog.processors.JSONRenderer(serializer=strictjson.dumps) if json else structlog.dev.ConsoleRenderer(colors=stream.isatty())
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=False),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(_LEVELS[level]),
        logger_factory=lambda *args: _SafePrintLogger(stream),
        cache_logger_on_first_use=False,
    )


def get(subsystem: str):
    return structlog.get_logger().bind(subsystem=subsystem)
