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
import sys
import threading
from collections.abc import Callable
from typing import IO, TYPE_CHECKING, Any

from ._errors import Error

if TYPE_CHECKING:
    import logging

# logging's levels, known without importing it (the module costs a short process ~2 ms).
TRACE, DEBUG, INFO, WARNING, ERROR = 5, 10, 20, 30, 40
LEVEL_NAMES = {TRACE: "TRACE", DEBUG: "DEBUG", INFO: "INFO", WARNING: "WARNING", ERROR: "ERROR"}

LEVELS = {"trace": TRACE, "debug": DEBUG, "info": INFO,
          "warn": WARNING, "warning": WARNING, "error": ERROR}
# Python level -> the integer `get_log_level` returns (ABI.md 10).
LOG_OFF = 2147483647
_ABI_LEVEL = ((TRACE, 0), (DEBUG, 1), (INFO, 2), (WARNING, 3), (ERROR, 4))

_setup_lock = threading.Lock()
_set_up = False


def _logging() -> Any:
    """The `logging` module, with wasmplug's loggers set up (once): the TRACE level
    name and a NullHandler on `wasmplug`, so nothing is printed unless a handler is added."""
    global _set_up
    import logging

    with _setup_lock:
        if not _set_up:
            logging.addLevelName(TRACE, "TRACE")
            logging.getLogger("wasmplug").addHandler(logging.NullHandler())
            _set_up = True
    return logging


class LazyLogger:
    """The `logging.Logger` called `name`, made when first used.

    wasmplug's one mechanism for not importing `logging` in a process that never
    logs: until a program has imported `logging` no handler can exist, so
    `isEnabledFor` answers False without loading it. A record is only made (and
    `logging` imported) when something is logged.
    """

    __slots__ = ("_logger", "name")

    def __init__(self, name: str) -> None:
        self.name = name
        self._logger: logging.Logger | None = None

    def get(self) -> logging.Logger:
        logger = self._logger
        if logger is None:
            logger = self._logger = _logging().getLogger(self.name)
        return logger

    def isEnabledFor(self, level: int) -> bool:
        logger = self._logger
        if logger is None:
            if "logging" not in sys.modules:
                return False
            logger = self.get()
        return logger.isEnabledFor(level)

    # stacklevel=2: records name the caller, not this class.
    def log(self, level: int, msg: str, *args: Any, **kwargs: Any) -> None:
        self.get().log(level, msg, *args, stacklevel=2, **kwargs)

    def debug(self, msg: str, *args: Any, **kwargs: Any) -> None:
        self.get().debug(msg, *args, stacklevel=2, **kwargs)

    def info(self, msg: str, *args: Any, **kwargs: Any) -> None:
        self.get().info(msg, *args, stacklevel=2, **kwargs)

    def warning(self, msg: str, *args: Any, **kwargs: Any) -> None:
        self.get().warning(msg, *args, stacklevel=2, **kwargs)

    def error(self, msg: str, *args: Any, **kwargs: Any) -> None:
        self.get().error(msg, *args, stacklevel=2, **kwargs)

    def exception(self, msg: str, *args: Any, **kwargs: Any) -> None:
        self.get().exception(msg, *args, stacklevel=2, **kwargs)

    def __getattr__(self, name: str) -> Any:  # handlers, setLevel, ...: the real logger's
        return getattr(self.get(), name)


def logger(name: str) -> LazyLogger:
    """The logger `name` (a `wasmplug...` name), imported and made on first use."""
    return LazyLogger(name)


root_logger = logger("wasmplug")
plugin_logger = logger("wasmplug.plugin")
if "logging" in sys.modules:  # already loaded by the program: name TRACE now, as it may set it by name
    _logging()


def abi_log_level() -> int:
    """What `get_log_level` tells a plug-in: the most verbose level enabled."""
    if "logging" not in sys.modules or not _has_real_handler(plugin_logger.get()):
        return LOG_OFF
    level = plugin_logger.getEffectiveLevel()
    for python_level, abi in _ABI_LEVEL:
        if level <= python_level:
            return abi
    return LOG_OFF


def _has_real_handler(logger: logging.Logger) -> bool:
    import logging

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
        return ERROR
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
    return bare if bare is not None else ERROR


_configured = threading.Lock()
_done = False


def _install(make_handler: Callable[[], logging.Handler], level: str | None) -> bool:
    """Attach `make_handler()` to the wasmplug logger; only the first call counts."""
    global _done
    from . import _log_handlers

    _logging()
    with _configured:
        if _done:
            return False
        handler = make_handler()  # if this raises (a file that cannot be opened), a later call may try
        _done = True
    _log_handlers.attach(handler, root_logger.get(), parse_level(level))
    return True


def set_log_file(file: str, level: str | None = None) -> None:
    """Send wasmplug's and plug-ins' logs to a file, `stdout`, `stderr` or `-`.

    Global; the first call wins (as in the extism SDK). `level` defaults to
    `error`.
    """
    parse_level(level)  # validate before taking the one chance
    stream: IO[str] | None = {"stdout": sys.stdout, "-": sys.stdout,
                              "stderr": sys.stderr}.get(file)
    from ._log_handlers import stream_or_file

    _install(lambda: stream_or_file(stream, file), level)


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


def set_log_custom(callback: Callable[[str], Any], level: str | None = None) -> CustomLogger:
    """Buffer log lines for `callback`; call `.drain()` on the result to deliver them."""
    parse_level(level)
    sink = CustomLogger(callback)
    from ._log_handlers import BufferHandler

    _install(lambda: BufferHandler(sink._append), level)
    return sink
