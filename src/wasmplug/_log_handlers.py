"""The handlers `set_log_file` and `set_log_custom` attach (imported only by them).

Kept apart from `_logs` so that a process that never configures logging does
not import `logging` (see `_logs.LazyLogger`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import IO

_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s plugin=%(plugin_id)s"


class _PluginIdDefault(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "plugin_id"):
            record.plugin_id = "-"
        return True


class BufferHandler(logging.Handler):
    """Hands each formatted line (with its newline) to `append`."""

    def __init__(self, append: Callable[[str], None]) -> None:
        super().__init__()
        self.append = append

    def emit(self, record: logging.LogRecord) -> None:
        self.append(self.format(record) + "\n")


def stream_or_file(stream: IO[str] | None, file: str) -> logging.Handler:
    return logging.StreamHandler(stream) if stream else logging.FileHandler(file, "a")


def attach(handler: logging.Handler, logger: logging.Logger, level: int) -> None:
    """`handler` on `logger` with wasmplug's format, `logger` at `level`."""
    handler.setFormatter(logging.Formatter(_FORMAT))
    handler.addFilter(_PluginIdDefault())
    logger.addHandler(handler)
    logger.setLevel(level)
