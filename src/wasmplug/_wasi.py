"""WASI preview 1 for plug-ins that ask for it (off by default).

A WASI plug-in gets: no arguments and no environment unless given
(`WasiOptions`), no stdin, stdout and stderr sent line by line to the
`wasmplug.plugin` logger (INFO and WARNING) or to your own callables, and no
file system except the directories the manifest's `allowed_paths` maps in.
A mapping whose host path starts with `ro:` is read-only. With
`EXTISM_ENABLE_WASI_OUTPUT` set (as for libextism), stdout and stderr not
given a callable go to the process's own stdout and stderr instead.

Teardown: wasmtime hands the output callables back (and so calls into Python)
from whichever thread drops its last reference to them, which can be one of
its tokio worker threads. A worker that does so while the interpreter is
finalising is stopped by Python in the middle of Rust code, and Rust aborts
with "panic in a function that cannot unwind". So an `atexit` hook frees
every WASI store while other threads may still take the GIL: first the
plug-ins registered with `close_at_exit`, then (explicitly, with
`Store.close()`) any store still alive because something else references it
(a kept exception's traceback, a reference cycle). Freeing a store releases
its callables at once; the hook waits (bounded) only for the callables of the
stores it freed, never for those of a store a call is still running in, so a
process exits as soon as its last call returns, whatever that call did.

Clock waits: WASI's own `poll_oneoff` sleeps in native code, where neither a
call's `timeout_ms` nor a cancel can reach it (a guest asking to sleep an hour
would hold its thread for an hour). `poll_oneoff` is therefore ours
(`define_poll_oneoff`): a clock wait ends at the call's deadline, or as soon
as the call is cancelled or its plug-in closed, and the guest is stopped at
its next instruction. File-descriptor subscriptions (a plug-in has no stdin,
its output goes to sinks, and regular files are always ready) are reported
ready at once.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import struct
import threading
import time
import weakref
from collections.abc import Callable, Mapping, Sequence

from . import _host_env
from . import _wasmtime as wasmtime
from ._errors import LoadError
from ._logs import INFO, WARNING, plugin_logger
from ._records import factory, record

READ_ONLY_PREFIX = "ro:"
ENABLE_OUTPUT_ENV = "EXTISM_ENABLE_WASI_OUTPUT"
_RELEASE_WAIT_S = 2.0

OutputSink = Callable[[bytes], object]


@record(frozen=True)
class WasiOptions:
    """What a WASI plug-in is given besides `allowed_paths`.

    `stdout` / `stderr` receive the bytes the plug-in writes; by default each
    line goes to the `wasmplug.plugin` logger (stdout at INFO, stderr at
    WARNING).
    """

    args: Sequence[str] = ()
    env: Mapping[str, str] = factory(dict)
    stdout: OutputSink | None = None
    stderr: OutputSink | None = None


class _LineLogger:
    """Buffers a stream and logs it a line at a time."""

    def __init__(self, level: int, stream: str, plugin_id: str) -> None:
        self.level = level
        self.extra = {"plugin_id": plugin_id, "stream": stream}
        self.pending = b""

    def __call__(self, data: bytes) -> None:
        lines = (self.pending + data).split(b"\n")
        self.pending = lines.pop()
        if len(self.pending) > 65_536:  # a "line" that never ends: log it in pieces
            lines.append(self.pending)
            self.pending = b""
        if not lines or not plugin_logger.isEnabledFor(self.level):
            return  # nobody listens: `logging` stays unloaded in a process that never configured it
        for line in lines:
            plugin_logger.log(self.level, "%s", line.decode("utf-8", "replace"), extra=self.extra)


def parse_allowed_paths(allowed_paths: Mapping[str, str] | None) -> list[tuple[str, str, bool]]:
    """(host directory, guest path, writable) for each mapping, checked to exist."""
    mounts = []
    for host, guest in (allowed_paths or {}).items():
        writable = not host.startswith(READ_ONLY_PREFIX)
        directory = host if writable else host[len(READ_ONLY_PREFIX):]
        if not os.path.isdir(directory):
            raise LoadError(
                f"Unable to create Extism plugin: allowed_paths maps {directory!r}, which is not "
                "a directory that can be opened; create it or fix the manifest")
        mounts.append((os.path.realpath(directory), guest, writable))
    return mounts


def attach(store: wasmtime.Store, options: WasiOptions, mounts: Sequence[tuple[str, str, bool]],
           plugin_id: str) -> None:
    """Give `store` WASI, and remember it (weakly) to free it at interpreter exit."""
    sinks: list[Callable[[bytes], int]] = []
    store.set_wasi(make_config(options, mounts, plugin_id, sinks))
    with _hook_lock:
        _install_hook()
        _stores[store] = weakref.WeakSet(sinks)


def make_config(options: WasiOptions, mounts: Sequence[tuple[str, str, bool]],
                plugin_id: str, sinks: list[Callable[[bytes], int]] | None = None) -> wasmtime.WasiConfig:
    """A WasiConfig; the output callables it hands wasmtime are appended to `sinks`."""
    config = wasmtime.WasiConfig()
    config.argv = list(options.args)
    config.env = list(options.env.items())
    inherit = ENABLE_OUTPUT_ENV in os.environ
    if options.stdout is None and inherit:
        config.inherit_stdout()
    else:
        out = options.stdout or _LineLogger(INFO, "stdout", plugin_id)
        config.stdout_custom = _sink(lambda data: _deliver(out, data), sinks)
    if options.stderr is None and inherit:
        config.inherit_stderr()
    else:
        err = options.stderr or _LineLogger(WARNING, "stderr", plugin_id)
        config.stderr_custom = _sink(lambda data: _deliver(err, data), sinks)
    for directory, guest, writable in mounts:
        try:
            config.preopen_dir(directory, guest, writable)
        except wasmtime.WasmtimeError as exc:
            raise LoadError(f"Unable to create Extism plugin: cannot map {directory!r} into the "
                            f"plug-in as {guest!r}: {exc}") from None
    return config


def _deliver(sink: OutputSink, data: bytes) -> int:
    sink(bytes(data))
    return len(data)


# ------------------------------------------------------------------ teardown

_live_sinks: weakref.WeakSet[Callable[[bytes], int]] = weakref.WeakSet()
_stores: weakref.WeakKeyDictionary[wasmtime.Store, weakref.WeakSet[Callable[[bytes], int]]] = (
    weakref.WeakKeyDictionary())
_closers: set[weakref.WeakMethod[Callable[[], object]]] = set()
_hook_lock = threading.Lock()
_hook_installed = False


def _sink(callback: Callable[[bytes], int],
          sinks: list[Callable[[bytes], int]] | None) -> Callable[[bytes], int]:
    """Remember an output callable wasmtime holds, to wait for its release at exit."""
    _live_sinks.add(callback)
    if sinks is not None:
        sinks.append(callback)
    return callback


def _install_hook() -> None:
    global _hook_installed
    if not _hook_installed:
        atexit.register(_close_all)
        _hook_installed = True


def close_at_exit(close: Callable[[], object]) -> None:
    """Call the bound method `close` at interpreter exit, if its object still lives.

    It must free the object's WASI store, or return that store if it cannot
    (a call is running in it): that store is then left alone. Only a weak
    reference is kept.
    """
    with _hook_lock:
        _install_hook()
    _closers.add(weakref.WeakMethod(close, _closers.discard))


def _close_all() -> None:
    tracked = list(_stores.items())  # strong references: every store is closed below
    busy: set[int] = set()
    # Dropped here, not left to die with this module: a plug-in freed later in the
    # interpreter's teardown would run a weak method's callback after the weakref
    # module is gone ("Exception ignored in ... WeakMethod ... _cb").
    closers = list(_closers)
    _closers.clear()
    for ref in closers:
        close = ref()
        if close is not None:
            with contextlib.suppress(Exception):  # one failure must not keep the rest alive
                in_use = close()
                if isinstance(in_use, wasmtime.Store):
                    busy.add(id(in_use))
    busy_sinks: set[int] = set()
    for store, sinks in tracked:
        if id(store) in busy:
            busy_sinks.update(id(sink) for sink in sinks)
            continue
        # Freed by its plug-in above, or still referenced by something else (a
        # traceback, a cycle): free it now, while the hand-back of its callables
        # may still take the GIL.
        with contextlib.suppress(Exception):
            store.close()
    del tracked
    # wasmtime may release the callables from a worker thread (a stream that was
    # written to): let it take the GIL now, while that is still allowed. Waited
    # for: the callables of every store freed so far, here or earlier (a plug-in
    # closed just before the exit, whose store is gone from `_stores` while a
    # worker still holds its callables), never those of a store a call is still
    # running in. They go within milliseconds.
    deadline = time.monotonic() + _RELEASE_WAIT_S
    while _unreleased(busy_sinks) and time.monotonic() < deadline:
        time.sleep(0.001)


def _unreleased(busy: set[int]) -> bool:
    """True while wasmtime still holds an output callable of a store that is freed."""
    return any(id(sink) not in busy for sink in list(_live_sinks))


# ------------------------------------------------------------------ clock waits

# wasi_snapshot_preview1 layouts: subscription (48 bytes) and event (32 bytes).
_SUBSCRIPTION = struct.Struct("<QB7xI4xQQH6x")  # userdata, tag, clock id / fd, timeout, precision, flags
_EVENT = struct.Struct("<QHB5xQH6x")            # userdata, errno, type, nbytes, flags
_TAG_CLOCK, _TAG_FD_READ, _TAG_FD_WRITE = 0, 1, 2
_CLOCK_REALTIME = 0
_ABSTIME = 1
_ERRNO_FAULT, _ERRNO_INVAL, _ERRNO_NOTSUP = 21, 28, 58
# How often a clock wait looks whether its call was cancelled, and how long an
# absolute wait on a clock whose origin only wasmtime knows waits before the
# guest looks at the clock again.
_WAIT_SLICE_S = 0.01


def define_poll_oneoff(linker: wasmtime.Linker) -> None:
    """Replace WASI's `poll_oneoff` (preview 1) in `linker`, which already has WASI."""
    i32 = wasmtime.ValType.i32()
    linker.allow_shadowing = True
    linker.define_func("wasi_snapshot_preview1", "poll_oneoff",
                       wasmtime.FuncType([i32, i32, i32, i32], [i32]), _poll_oneoff,
                       access_caller=True)


def _poll_oneoff(caller: wasmtime.Caller, in_ptr: int, out_ptr: int, count: int,
                 nevents_ptr: int) -> int:
    memory = caller.get("memory")
    if not isinstance(memory, wasmtime.Memory):
        return _ERRNO_NOTSUP
    if count == 0:
        return _ERRNO_INVAL
    size = memory.data_len(caller)
    if in_ptr + count * _SUBSCRIPTION.size > size or out_ptr + count * _EVENT.size > size \
            or nevents_ptr + 4 > size:
        return _ERRNO_FAULT
    raw = memory.read(caller, in_ptr, in_ptr + count * _SUBSCRIPTION.size)
    subscriptions = [_SUBSCRIPTION.unpack_from(raw, i * _SUBSCRIPTION.size) for i in range(count)]
    if any(tag not in (_TAG_CLOCK, _TAG_FD_READ, _TAG_FD_WRITE) for _, tag, *_ in subscriptions):
        return _ERRNO_INVAL
    waits = {userdata: _clock_wait_s(clock, timeout, flags)
             for userdata, tag, clock, timeout, _, flags in subscriptions if tag == _TAG_CLOCK}
    ready_fds = any(tag != _TAG_CLOCK for _, tag, *_ in subscriptions)
    soonest = 0.0 if ready_fds or not waits else min(waits.values())
    waited = _wait(soonest)
    events = b"".join(
        _EVENT.pack(userdata, 0, tag, 0, 0) for userdata, tag, clock, timeout, _, flags in subscriptions
        if tag != _TAG_CLOCK or waits[userdata] <= max(waited, soonest))
    memory.write(caller, events, out_ptr)
    memory.write(caller, struct.pack("<I", len(events) // _EVENT.size), nevents_ptr)
    return 0


def _clock_wait_s(clock: int, timeout_ns: int, flags: int) -> float:
    """Seconds a clock subscription asks to wait."""
    if not flags & _ABSTIME:
        return timeout_ns / 1e9
    if clock == _CLOCK_REALTIME:
        return max(0.0, (timeout_ns - time.time_ns()) / 1e9)
    return _WAIT_SLICE_S  # an absolute time on wasmtime's own monotonic clock


def _wait(seconds: float) -> float:
    """Sleep up to `seconds`; the seconds slept. A wait cut short by the call's deadline
    or by a stop (cancel, close) ends the call: it fails as that timeout or cancel."""
    started = time.monotonic()
    try:
        state: _host_env.HostState | None = _host_env.active()
    except _host_env.HostError:  # not in a call (a start function): no deadline to keep
        state = None
    end = started + seconds
    while True:
        left = end - time.monotonic()
        if state is not None:
            if state.stop_requested():
                raise _host_env.HostError("the call was stopped during a clock wait")
            call_left = state.time_left()
            if call_left is not None and call_left < left:
                if call_left <= 0:
                    state.timed_out = True
                    raise _host_env.HostError("timeout")
                left = call_left
        if left <= 0:
            return time.monotonic() - started
        time.sleep(min(left, _WAIT_SLICE_S))
