"""Logs: one JSON object per line on stdout (`ts`, `level`, `event`, plus fields).

No secrets and no message text at info level. Libraries that log through `logging`
(websockets, botocore) are routed here at WARNING and above.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any, TextIO

LEVELS = ("debug", "info", "warning", "error")


class Log:
    def __init__(self, stream: TextIO | None = None, level: str = "info") -> None:
        self.stream = stream or sys.stdout
        self.threshold = LEVELS.index(level)

    def emit(self, level: str, event: str, **fields: Any) -> None:
        if LEVELS.index(level) < self.threshold:
            return
        record = {"ts": _timestamp(), "level": level, "event": event, **fields}
        try:
            self.stream.write(json.dumps(record, default=str, separators=(",", ":")) + "\n")
            self.stream.flush()
        except (OSError, ValueError):
            pass  # stdout gone (closed pipe): logging must never take the server down

    def debug(self, event: str, **fields: Any) -> None:
        self.emit("debug", event, **fields)

    def info(self, event: str, **fields: Any) -> None:
        self.emit("info", event, **fields)

    def warning(self, event: str, **fields: Any) -> None:
        self.emit("warning", event, **fields)

    def error(self, event: str, **fields: Any) -> None:
        self.emit("error", event, **fields)


def _timestamp() -> str:
    now = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now % 1 * 1000):03d}Z"


class _Handler(logging.Handler):
    def __init__(self, log: Log) -> None:
        super().__init__(logging.WARNING)
        self.log = log

    def emit(self, record: logging.LogRecord) -> None:
        level = "error" if record.levelno >= logging.ERROR else "warning"
        fields: dict[str, Any] = {"logger": record.name, "message": record.getMessage()}
        if record.exc_info and record.exc_info[1] is not None:
            fields["error"] = repr(record.exc_info[1])
        self.log.emit(level, "library", **fields)


def route_library_logs(log: Log) -> None:
    """Send warnings and errors of the libraries (websockets, botocore, redis) to `log`."""
    root = logging.getLogger()
    root.handlers[:] = [_Handler(log)]
    root.setLevel(logging.WARNING)


log = Log()
