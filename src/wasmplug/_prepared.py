"""`Plugin.prepare(name)`: one export called many times, with less work per call.

A `PreparedCall` is `plugin.call(name, data)` for bytes in and bytes out, with
the same results, errors, limits and locking, made for callers that call one
export once per row (wasmplug.sql) or per message. Its timeout is the plug-in's
own timer, as for any call (`Plugin._arm_timer`: one entry per timeout period,
re-armed, never cancelled). What it saves per call:

- setting the thread's running plug-in for host functions, when the plug-in
  imports none (no host functions, WASI, config or vars);
- the per-call conversions of `call` (str/memoryview input, a `parse` step),
  the export's lookup, and the checks of a plain call's set-up and ending
  that only matter when something is unusual: a clean call on a ready
  instance runs a short path, and everything else (a trap, an error, a
  timeout, a rebuild, fuel) goes through `Plugin`'s own code.

Anything unusual (the call-events log is on, another thread is in a call,
the plug-in needs a rebuild) takes the ordinary path.
"""

from __future__ import annotations

from threading import get_ident
from time import monotonic
from typing import Any, Final

from . import _host_env, _runtime_events
from ._kernel import _REGISTERS, _REGISTERS_AT, KernelMemoryError

CLOSING: Final = 0  # Plugin.plugin while close() waits for a running call (_plugin.py)
_events_enabled_for = _runtime_events.enabled_for
_CALL_EVENTS: Final = _runtime_events.CALL_EVENTS
_enter, _leave = _host_env.enter, _host_env.leave


class PreparedCall:
    """`plugin.call(name, data)` prepared once; call it with bytes, get bytes back.

    Raises what `Plugin.call` raises. Made by `Plugin.prepare(name)`; it
    keeps the plug-in alive, and calls after the plug-in is closed fail as
    calls on a closed plug-in do.
    """

    __slots__ = ("_invoke", "_invokers", "_isolated", "_max_output", "_plain", "_plugin", "_timeout_s",
                 "name")

    def __init__(self, plugin: Any, name: str) -> None:
        self._plugin = plugin
        self.name = name
        manifest = plugin._compiled.manifest
        self._timeout_s: float | None = None if manifest.timeout_ms is None else manifest.timeout_ms / 1000
        self._max_output: int | None = manifest.memory.max_output_bytes
        self._invokers: object = None  # the instance's invoker table `_invoke` came from
        self._invoke: Any = None
        # What always takes the ordinary path: `_start` (a fresh instance each time) and
        # plug-ins that get a fresh instance per call (0.x ABI with WASI).
        self._plain = name == "_start" or plugin._compiled.fresh_instance_per_call
        # A plug-in that imports nothing served by Python (host functions, WASI, config and
        # vars) cannot reach `_host_env.active()` during a call: no need to set it.
        links = plugin._compiled.links
        self._isolated = not (links.host or links.user or links.uses_wasi or links.uses_kernel_host_env)

    def __call__(self, data: bytes) -> bytes:
        plugin = self._plugin
        if (type(data) is not bytes or plugin._owner is not None or self._plain
                or _events_enabled_for(_CALL_EVENTS) or plugin._host.config.changed):
            output: bytes = plugin.call(self.name, data)  # (the checks and the log of a plain call)
            return output
        with plugin._lock:
            plugin._owner = get_ident()
            try:
                if (plugin.plugin != 1 or plugin._needs_rebuild or plugin._instance is None
                        or plugin.fuel_limit is not None):
                    return plugin._call_locked(self.name, data, None)  # type: ignore[no-any-return]
                # `Plugin._prepare`, `_run` and `_outcome` for a ready instance, in one frame;
                # anything but a clean call is handed to `_outcome`, which says what went wrong.
                if plugin._invokers is not self._invokers:  # a new instance since the last call
                    self._invoke = plugin._invoker(self.name)
                    self._invokers = plugin._invokers
                kernel = plugin._kernel
                try:
                    placed = kernel.begin_call(data)
                except Exception:  # the ordinary path places it again and says why it fails
                    placed = False
                if not placed:
                    return plugin._call_locked(self.name, data, None)  # type: ignore[no-any-return]
                host = plugin._host
                timeout_s = self._timeout_s
                with plugin._timer_lock:  # as Plugin._run: the timer sees this call whole, or none
                    if timeout_s is not None:
                        deadline = host.deadline = monotonic() + timeout_s
                    seq = plugin._call_seq = plugin._call_seq + 1
                    plugin._running = True
                    if timeout_s is not None and (plugin._timer_at is None or plugin._timer_at > deadline):
                        plugin._arm_timer(deadline)
                isolated = self._isolated
                previous = None if isolated else _enter(host)
                failure: BaseException | None = None
                rc = 0
                try:
                    rc = self._invoke() or 0
                except BaseException as exc:
                    failure = exc
                plugin._running = False
                if not isolated:
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
                    error, _, _, out_offset, out_length = _REGISTERS.unpack_from(kernel.view, _REGISTERS_AT)
                    if not error and (self._max_output is None or out_length <= self._max_output):
                        if out_length == 0:
                            return b""
                        try:
                            if out_offset + out_length <= kernel.reach:  # (Kernel.read, inline)
                                output = kernel.view[out_offset:out_offset + out_length].tobytes()
                            else:
                                output = kernel.read(out_offset, out_length)
                            return output
                        except KernelMemoryError:
                            pass
                return plugin._outcome(self.name, rc, failure, interrupted)  # type: ignore[no-any-return]
            finally:
                plugin._owner = None
                if plugin.plugin == CLOSING:
                    plugin._free()  # close() gave up waiting for this call, or ran inside it

    def __repr__(self) -> str:
        return f"<PreparedCall {self.name!r} of plug-in {self._plugin.id}>"
