"""Plug-in log messages through the standard `logging` module (ABI.md section 10).

Plug-in messages go to the logger `wasmplug.plugin`, tagged with the plug-in
id (`record.plugin_id`); wasmplug's own diagnostics use `wasmplug`. The level
a plug-in sees through `get_log_level` is the effective level of
`wasmplug.plugin`, or "off" while no handler would print anything. Configure
it like any other logger, or with the SDK-compatible `set_log_file` /
`set_log_custom`.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import threading
from collections.abc import Callable
from typing import IO, Any

from ._errors import Error

TRACE = 5
logging.addLevelName(TRACE, "TRACE")

root_logger = logging.getLogger("wasmplug")
root_logger.addHandler(logging.NullHandler())
plugin_logger = logging.getLogger("wasmplug.plugin")

LEVELS = {"trace": TRACE, "debug": logging.DEBUG, "info": logging.INFO,
          "warn": logging.WARNING, "warning": logging.WARNING, "error": logging.ERROR}
# Python level -> the integer `get_log_level` returns (ABI.md 10).
LOG_OFF = 2147483647
_ABI_LEVEL = ((TRACE, 0), (logging.DEBUG, 1), (logging.INFO, 2),
              (logging.WARNING, 3), (logging.ERROR, 4))


def abi_log_level() -> int:
    """What `get_log_level` tells a plug-in: the most verbose level enabled."""
    if not _has_real_handler(plugin_logger):
        return LOG_OFF
    level = plugin_logger.getEffectiveLevel()
    for python_level, abi in _ABI_LEVEL:
        if level <= python_level:
            return abi
    return LOG_OFF


def _has_real_handler(logger: logging.Logger) -> bool:
    current: logging.Logger | None = logger
    while current is not None:
        if any(not isinstance(h, logging.NullHandler) for h in current.handlers):
            return True
        if not current.propagate:
            return False
        current = current.parent
    return False


def parse_level(level: str | None) -> int:
    """A level name, or a filter such as `extism=trace,cranelift=debug`."""
    if level is None:
        return logging.ERROR
    text = level.strip().lower()
    bare: int | None = None
    ours: int | None = None
    for part in filter(None, (p.strip() for p in text.split(","))):
        target, _, name = part.rpartition("=")
        if name not in LEVELS:
            raise Error(f"unknown log level {name!r} in {level!r}: use one of "
                        "trace, debug, info, warn, error")
        if not target:
            bare = LEVELS[name]
        elif target.split("::")[0] in ("extism", "wasmplug"):
            ours = min(ours, LEVELS[name]) if ours is not None else LEVELS[name]
    if ours is not None:
        return ours
    return bare if bare is not None else logging.ERROR


class _PluginIdDefault(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "plugin_id"):
            record.plugin_id = "-"
        return True


_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s plugin=%(plugin_id)s"
_configured = threading.Lock()
_done = False


def _install(handler: logging.Handler, level: str | None) -> bool:
    """Attach `handler` to the wasmplug logger; only the first call counts."""
    global _done
    with _configured:
        if _done:
            return False
        _done = True
    handler.setFormatter(logging.Formatter(_FORMAT))
    handler.addFilter(_PluginIdDefault())
    root_logger.addHandler(handler)
    root_logger.setLevel(parse_level(level))
    return True


def set_log_file(file: str, level: str | None = None) -> None:
    """Send wasmplug's and plug-ins' logs to a file, `stdout`, `stderr` or `-`.

    Global; the first call wins (as in the extism SDK). `level` defaults to
    `error`.
    """
    parse_level(level)  # validate before taking the one chance
    stream: IO[str] | None = {"stdout": sys.stdout, "-": sys.stdout,
                              "stderr": sys.stderr}.get(file)
    handler: logging.Handler
    handler = logging.StreamHandler(stream) if stream else logging.FileHandler(file, "a")
    _install(handler, level)


class CustomLogger:
    """Buffers log lines until `drain()` hands each to the callback."""

    def __init__(self, callback: Callable[[str], Any]) -> None:
        self.callback = callback
        self._lines: list[str] = []
        self._lock = threading.Lock()

    def set_callback(self, callback: Callable[[str], Any]) -> None:
        """Hand the lines still buffered, and later ones, to `callback` instead."""
        self.callback = callback

    def _append(self, line: str) -> None:
        with self._lock:
            self._lines.append(line)

    def drain(self) -> None:
        with self._lock:
            lines, self._lines = self._lines, []
        for line in lines:
            self.callback(line)

    def __del__(self) -> None:
        with contextlib.suppress(Exception):  # never raise from a finaliser
            self.drain()


class _BufferHandler(logging.Handler):
    def __init__(self, sink: CustomLogger) -> None:
        super().__init__()
        self.sink = sink

    def emit(self, record: logging.LogRecord) -> None:
        self.sink._append(self.format(record) + "\n")


def set_log_custom(callback: Callable[[str], Any], level: str | None = None) -> CustomLogger:
    """Buffer log lines for `callback`; call `.drain()` on the result to deliver them."""
    parse_level(level)
    sink = CustomLogger(callback)
    _install(_BufferHandler(sink), level)
    return sink
