"""wasmplug's own runtime events, on the logger `wasmplug.runtime`.

What libextism tells the official SDK's `set_log_file` / `set_log_custom`
handlers about itself, wasmplug tells through the standard `logging` module:

| event | level |
| --- | --- |
| a module compiled, or loaded from the on-disk cache (with the time taken) | DEBUG |
| a module reused from the in-memory table | TRACE |
| a compiled plug-in ready, a plug-in created (with the times taken) and freed | DEBUG |
| a plug-in's modules instantiated (with the time taken) | TRACE |
| a call started | TRACE |
| a call finished, with its duration and outcome | DEBUG |
| a call stopped by a limit (`timeout_ms`, `fuel_limit`, `memory.*`) | INFO |

Records carry the plug-in id as `record.plugin_id`. The call path asks one
cached question per call (`enabled_for(CALL_EVENTS)`); when nothing listens at INFO or
below, no clock is read and nothing is formatted.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from typing import Any, TypeVar

from . import _logs
from ._errors import CallError
from ._logs import TRACE

log = _logs.logger("wasmplug.runtime")
_DEBUG = _logs.DEBUG
_INFO = _logs.INFO
T = TypeVar("T")

# The hot path's single question, asked once per call:
# `enabled_for(CALL_EVENTS)`, would any call event (INFO or below) be handled?
# `Logger.isEnabledFor` caches its answer until a level changes (~0.1 µs); before anything
# has imported `logging`, `LazyLogger` answers False without it.
enabled_for = log.isEnabledFor
CALL_EVENTS = _INFO


def _ms(start: float) -> float:
    return (time.perf_counter() - start) * 1000


def module_ready(how: str, label: str, sha256: str, start: float) -> None:
    """A module is ready: `how` is "compiled", "loaded from the cache" or "reused"."""
    level = TRACE if how == "reused" else _DEBUG
    if log.isEnabledFor(level):
        log.log(level, "module %s (sha256 %s) %s in %.2f ms", label, sha256[:16], how, _ms(start))


def compiled_plugin_ready(modules: int, functions: int, start: float) -> None:
    if log.isEnabledFor(_DEBUG):
        log.debug("compiled plug-in ready in %.2f ms (%d module%s, %d host function%s)",
                  _ms(start), modules, "" if modules == 1 else "s", functions,
                  "" if functions == 1 else "s")


def plugin_created(plugin_id: Any, start: float, wasi: bool) -> None:
    if log.isEnabledFor(_DEBUG):
        log.debug("plug-in created in %.2f ms%s", _ms(start), " (WASI)" if wasi else "",
                  extra={"plugin_id": plugin_id})


def plugin_instantiated(plugin_id: Any, start: float) -> None:
    if log.isEnabledFor(TRACE):
        log.log(TRACE, "plug-in instantiated in %.2f ms", _ms(start),
                extra={"plugin_id": plugin_id})


def plugin_freed(plugin_id: Any) -> None:
    # Also runs from finalisers, possibly while the interpreter shuts down.
    with contextlib.suppress(Exception):
        if log.isEnabledFor(_DEBUG):
            log.debug("plug-in freed", extra={"plugin_id": plugin_id})


def observe_call(plugin_id: Any, name: str, size: int, run: Callable[..., T], *args: Any) -> T:
    """Run one call (`run(*args)`), logging its start, end, duration and any limit it hit."""
    extra = {"plugin_id": plugin_id}
    log.log(TRACE, "call to %s started with %d bytes of input", name, size, extra=extra)
    start = time.perf_counter()
    try:
        output = run(*args)
    except CallError as exc:
        elapsed = _ms(start)
        if exc.limit is not None:
            log.info("call to %s stopped by limit %s = %s after %.2f ms", name, exc.limit,
                     exc.limit_value, elapsed, extra=extra)
        log.debug("call to %s failed after %.3f ms: %s", name, elapsed, exc, extra=extra)
        raise
    except BaseException as exc:
        log.debug("call to %s interrupted after %.3f ms (%s)", name, _ms(start),
                  type(exc).__name__, extra=extra)
        raise
    if log.isEnabledFor(_DEBUG):
        size_out = len(output) if isinstance(output, bytes | bytearray) else -1
        log.debug("call to %s finished in %.3f ms with %d bytes of output", name, _ms(start),
                  size_out, extra=extra)
    return output
