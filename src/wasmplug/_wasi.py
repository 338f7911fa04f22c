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
with "panic in a function that cannot unwind". So `close_at_exit` frees WASI
stores from an `atexit` hook, while other threads may still take the GIL,
and waits until wasmtime has released every output callable.
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

from ._errors import LoadError
from ._logs import plugin_logger

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


def make_config(options: WasiOptions, mounts: Sequence[tuple[str, str, bool]],
                plugin_id: str) -> wasmtime.WasiConfig:
    config = wasmtime.WasiConfig()
    config.argv = list(options.args)
    config.env = list(options.env.items())
    inherit = ENABLE_OUTPUT_ENV in os.environ
    if options.stdout is None and inherit:
        config.inherit_stdout()
    else:
        out = options.stdout or _LineLogger(logging.INFO, "stdout", plugin_id)
        config.stdout_custom = _sink(lambda data: _deliver(out, data))
    if options.stderr is None and inherit:
        config.inherit_stderr()
    else:
        err = options.stderr or _LineLogger(logging.WARNING, "stderr", plugin_id)
        config.stderr_custom = _sink(lambda data: _deliver(err, data))
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
_closers: set[weakref.WeakMethod[Callable[[], object]]] = set()
_hook_lock = threading.Lock()
_hook_installed = False


def _sink(callback: Callable[[bytes], int]) -> Callable[[bytes], int]:
    """Remember an output callable wasmtime holds, to wait for its release at exit."""
    _live_sinks.add(callback)
    return callback


def close_at_exit(close: Callable[[], object]) -> None:
    """Call the bound method `close` at interpreter exit, if its object still lives.

    It must free the object's WASI store (and may skip a store a running call
    is using). Only a weak reference is kept.
    """
    global _hook_installed
    with _hook_lock:
        if not _hook_installed:
            atexit.register(_close_all)
            _hook_installed = True
    _closers.add(weakref.WeakMethod(close, _closers.discard))


def _close_all() -> None:
    for ref in list(_closers):
        close = ref()
        if close is not None:
            with contextlib.suppress(Exception):  # one failure must not keep the rest alive
                close()
    # wasmtime may release the callables from a worker thread: let it take the
    # GIL now, while that is still allowed.
    deadline = time.monotonic() + _RELEASE_WAIT_S
    while len(_live_sinks) and time.monotonic() < deadline:
        time.sleep(0.002)
