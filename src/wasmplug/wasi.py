"""WASI preview 1 for plug-ins that ask for it (off by default).

A WASI plug-in gets: no arguments and no environment unless given
(`WasiOptions`), no stdin, stdout and stderr sent line by line to the
`wasmplug.plugin` logger (INFO and WARNING) or to your own callables, and no
file system except the directories the manifest's `allowed_paths` maps in.
A mapping whose host path starts with `ro:` is read-only.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import wasmtime

from .errors import LoadError
from .logs import plugin_logger

READ_ONLY_PREFIX = "ro:"

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
    out = options.stdout or _LineLogger(logging.INFO, "stdout", plugin_id)
    err = options.stderr or _LineLogger(logging.WARNING, "stderr", plugin_id)
    config.stdout_custom = lambda data: _deliver(out, data)
    config.stderr_custom = lambda data: _deliver(err, data)
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
