"""`Plugin.prepare(name)`: one export called many times, with less work per call.

A `PreparedCall` is `plugin.call(name, data)` for bytes in and bytes out, with
the same results, errors, limits and locking, made for callers that call one
export once per row (wasmplug.sql) or per message. What it saves per call:

- the timeout timer. A plain call schedules a timer on the engine's ticker and
  cancels it afterwards (two locked heap operations). A prepared call keeps
  one `Watchdog` armed instead: each call only stamps its deadline, and the
  watchdog, when it fires, either stops the call that is over its deadline, sets
  itself again for the running call's deadline, or (no call running) stays
  unarmed until the next call. So the timer costs one schedule per timeout
  period, not two heap operations per call, and a call still stops at its
  own deadline (give or take the ticker's usual lateness).
- the per-call conversions of `call` (str/memoryview input, a `parse` step),
  the export's lookup, and the checks of a plain call's set-up and ending
  that only matter when something is unusual: a clean call on a ready
  instance runs a short path, and everything else (a trap, an error, a
  timeout, a rebuild, fuel) goes through `Plugin`'s own code.

Anything unusual (the call-events log is on, another thread is in a call,
the plug-in needs a rebuild) takes the ordinary path.
"""

from __future__ import annotations

import time
import weakref
from threading import get_ident
from time import monotonic
from typing import Any, Final

from . import _host_env, _runtime_events
from ._kernel import KernelMemoryError

CLOSING: Final = 0  # Plugin.plugin while close() waits for a running call (_plugin.py)
_events_enabled_for = _runtime_events.enabled_for
_CALL_EVENTS: Final = _runtime_events.CALL_EVENTS
_enter, _leave = _host_env.enter, _host_env.leave


class Watchdog:
    """The timeout of a prepared call's runs (module docstring).

    `started(seq, deadline)` is called with the plug-in's call number and
    deadline once the call is marked running. The ticker thread runs
    `_fire`; both sides run Python code under the GIL, and the order of their
    steps (the call marks itself running before it looks at `armed`; the
    watchdog clears `armed` before it looks at the call) leaves no call
    unwatched.
    """

    __slots__ = ("__weakref__", "_plugin", "_ticker", "armed", "deadline", "seq")

    def __init__(self, plugin: Any) -> None:
        self._plugin = weakref.ref(plugin)
        self._ticker = plugin._compiled.runtime.ticker
        self.armed = False
        self.seq = 0
        self.deadline = 0.0

    def started(self, seq: int, deadline: float) -> None:
        self.deadline = deadline
        self.seq = seq  # after the deadline: _fire trusts the deadline of the seq it sees
        if not self.armed:
            self.arm(deadline - time.monotonic())

    def arm(self, seconds: float) -> None:
        self.armed = True
        me = weakref.ref(self)
        self._ticker.schedule(max(seconds, 0.0), lambda: (w := me()) is not None and w._fire())

    def _fire(self) -> bool:
        self.armed = False
        plugin = self._plugin()
        if plugin is None or not plugin._running or plugin._call_seq != self.seq:
            return False  # no call of ours is running: the next one arms again
        seq, left = self.seq, self.deadline - time.monotonic()
        if left > 0:
            self.arm(left)  # a later call than the one this was armed for
            return False
        interrupted: bool = plugin._interrupt(seq, "timeout_ms")
        return interrupted


class PreparedCall:
    """`plugin.call(name, data)` prepared once; call it with bytes, get bytes back.

    Raises what `Plugin.call` raises. Made by `Plugin.prepare(name)`; it
    keeps the plug-in alive, and calls after the plug-in is closed fail as
    calls on a closed plug-in do.
    """

    __slots__ = ("_invoke", "_invokers", "_max_output", "_plain", "_plugin", "_timeout_s", "_watchdog",
                 "name")

    def __init__(self, plugin: Any, name: str) -> None:
        self._plugin = plugin
        self.name = name
        self._watchdog = Watchdog(plugin)
        manifest = plugin._compiled.manifest
        self._timeout_s: float | None = None if manifest.timeout_ms is None else manifest.timeout_ms / 1000
        self._max_output: int | None = manifest.memory.max_output_bytes
        self._invokers: object = None  # the instance's invoker table `_invoke` came from
        self._invoke: Any = None
        # What always takes the ordinary path: `_start` (a fresh instance each time) and
        # plug-ins that get a fresh instance per call (0.x ABI with WASI).
        self._plain = name == "_start" or plugin._compiled.fresh_instance_per_call

    def __call__(self, data: bytes) -> bytes:
        plugin = self._plugin
        if (type(data) is not bytes or plugin._owner is not None or self._plain
                or _events_enabled_for(_CALL_EVENTS)):
            output: bytes = plugin.call(self.name, data)  # (the checks and the log of a plain call)
            return output
        with plugin._lock:
            plugin._owner = get_ident()
            try:
                if (plugin.plugin != 1 or plugin._needs_rebuild or plugin._instance is None
                        or plugin.fuel_limit is not None):
                    output = plugin._call_locked(self.name, data, None, self._watchdog)
                else:
                    output = self._run(plugin, data)
            finally:
                plugin._owner = None
                if plugin.plugin == CLOSING:
                    plugin._free()  # close() gave up waiting for this call, or ran inside it
        return output

    def _run(self, plugin: Any, data: bytes) -> bytes:
        """`Plugin._prepare`, `_run` and `_outcome` for a ready instance; anything but a
        clean call is handed to `_outcome`, which says what went wrong."""
        if plugin._invokers is not self._invokers:  # a new instance since the last call
            self._invoke = plugin._invoker(self.name)
            self._invokers = plugin._invokers
        kernel = plugin._kernel
        try:
            placed = kernel.begin_call(data)
        except Exception:  # the ordinary path places it again and says why it fails
            placed = False
        if not placed:
            return plugin._call_locked(self.name, data, None, self._watchdog)  # type: ignore[no-any-return]
        seq = plugin._call_seq = plugin._call_seq + 1
        plugin._running = True
        host = plugin._host
        timeout_s = self._timeout_s
        if timeout_s is not None:
            host.deadline = deadline = monotonic() + timeout_s
            watchdog = self._watchdog
            watchdog.deadline = deadline
            watchdog.seq = seq  # (Watchdog.started, inline)
            if not watchdog.armed:
                watchdog.arm(timeout_s)
        previous = _enter(host)
        failure: BaseException | None = None
        rc = 0
        try:
            rc = self._invoke() or 0
        except BaseException as exc:
            failure = exc
        plugin._running = False
        _leave(previous)
        interrupted = plugin._interrupting == seq
        if plugin._interrupting or host.timed_out or plugin.plugin == CLOSING:  # as Plugin._run
            plugin._interrupting = 0
            if host.timed_out:
                host.timed_out = False
                interrupted, plugin._interrupt_reason = True, "timeout_ms"
            if plugin.plugin == CLOSING:
                interrupted, plugin._interrupt_reason = True, "close"
        elif failure is None and not rc:
            error, _, _, out_offset, out_length = kernel.registers()
            if not error and (self._max_output is None or out_length <= self._max_output):
                try:
                    output: bytes = kernel.read(out_offset, out_length)
                    return output
                except KernelMemoryError:
                    pass
        return plugin._outcome(self.name, rc, failure, interrupted)  # type: ignore[no-any-return]

    def __repr__(self) -> str:
        return f"<PreparedCall {self.name!r} of plug-in {self._plugin.id}>"
