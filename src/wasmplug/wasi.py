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
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import threading
import time
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import wasmtime

from .errors import LoadError
from .logs import plugin_logger

READ_ONLY_PREFIX = "ro:"
ENABLE_OUTPUT_ENV = "EXTISM_ENABLE_WASI_OUTPUT"
_RELEASE_WAIT_S = 2.0

OutputSink = Callable[[bytes], object]


@dataclass(frozen=True)
class WasiOptions:
    """What a WASI plug-in is given besides `allowed_paths`.

    `stdout` / `stderr` receive the bytes the plug-in writes; by default each
    line goes to the `wasmplug.plugin` logger (stdout at INFO, stderr at
    WARNING).
    """

    args: Sequence[str] = ()
    env: Mapping[str, str] = field(default_factory=dict)
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
        out = options.stdout or _LineLogger(logging.INFO, "stdout", plugin_id)
        config.stdout_custom = _sink(lambda data: _deliver(out, data), sinks)
    if options.stderr is None and inherit:
        config.inherit_stderr()
    else:
        err = options.stderr or _LineLogger(logging.WARNING, "stderr", plugin_id)
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
    for ref in list(_closers):
        close = ref()
        if close is not None:
            with contextlib.suppress(Exception):  # one failure must not keep the rest alive
                in_use = close()
                if isinstance(in_use, wasmtime.Store):
                    busy.add(id(in_use))
    waiting: list[weakref.WeakSet[Callable[[bytes], int]]] = []
    for store, sinks in tracked:
        if id(store) in busy:
            continue
        waiting.append(sinks)
        # Freed by its plug-in above, or still referenced by something else (a
        # traceback, a cycle): free it now, while the hand-back of its callables
        # may still take the GIL.
        with contextlib.suppress(Exception):
            store.close()
    del tracked
    # wasmtime may release the callables from a worker thread (a stream that was
    # written to): let it take the GIL now, while that is still allowed. Only the
    # freed stores' callables are waited for; they go within milliseconds.
    deadline = time.monotonic() + _RELEASE_WAIT_S
    while any(len(sinks) for sinks in waiting) and time.monotonic() < deadline:
        time.sleep(0.001)
