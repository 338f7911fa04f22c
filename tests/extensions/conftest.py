"""Helpers for the extension host tests: TOML files naming the example extensions."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from wasmplug.extensions import Event, ExtensionHost

from ..conftest import ROOT

EXTENSIONS = ROOT / "plugins" / "extensions"


def ext_wasm(name: str) -> Path:
    """A committed example extension: transform, stats, unruly, versioned_1, ..."""
    return EXTENSIONS / f"{name}.wasm"


def wait_for(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    """Poll `condition` until it holds (AssertionError after `timeout` seconds)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.005)


def running_calls(host: ExtensionHost, name: str) -> int:
    """How many of extension `name`'s instances are inside a Wasm call now."""
    build = host.extension(name)._build
    if build is None:
        return 0
    plugins = [build.plugin] if build.plugin is not None else list(build.pool._pool.busy)  # type: ignore[union-attr]
    return sum(1 for plugin in plugins if plugin is not None and plugin._running)


def _value(value: Any) -> str:
    return json.dumps(value)  # strings, numbers, booleans and lists read the same in TOML


def entry(name: str, wasm: str | Path, *, permissions: dict[str, Any] | None = None,
          config: dict[str, Any] | None = None, restart: dict[str, Any] | None = None,
          source_type: str = "wasm", **keys: Any) -> str:
    """One [[extensions]] table (source_type "js": `wasm` is the path of a .js file)."""
    path = wasm if isinstance(wasm, Path) else ext_wasm(wasm)
    lines = ["[[extensions]]", f"name = {_value(name)}"]
    lines += [f"{key} = {_value(value)}" for key, value in keys.items()]
    lines += ["[extensions.source]", f"type = {_value(source_type)}", f"path = {_value(str(path))}"]
    for table, values in (("permissions", permissions), ("config", config), ("restart", restart)):
        if values:
            lines.append(f"[extensions.{table}]")
            lines += [f"{key} = {_value(value)}" for key, value in values.items()]
    return "\n".join(lines) + "\n"


@pytest.fixture
def write_config(tmp_path: Path) -> Callable[..., Path]:
    """write_config(entry(...), entry(...)) -> the path of a new extensions.toml."""

    def write(*entries: str, name: str = "extensions.toml") -> Path:
        path = tmp_path / name
        path.write_text("\n".join(entries))
        return path

    return write


class Recorder:
    """An on_event callback that keeps the events."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.times: list[float] = []  # time.monotonic() of each event

    def __call__(self, event: Event) -> None:
        self.times.append(time.monotonic())
        self.events.append(event)

    def kinds(self, extension: str | None = None) -> list[str]:
        return [e.kind for e in self.events if extension is None or e.extension == extension]

    def of(self, kind: str) -> list[Event]:
        return [e for e in self.events if e.kind == kind]


@pytest.fixture
def open_host(write_config: Callable[..., Path]) -> Iterator[Callable[..., tuple[ExtensionHost,
                                                                                 Recorder]]]:
    """open_host(entry(...), ...) -> (a started host, its event recorder); closed afterwards."""
    hosts: list[ExtensionHost] = []

    def open_(*entries: str) -> tuple[ExtensionHost, Recorder]:
        recorder = Recorder()
        host = ExtensionHost(write_config(*entries), on_event=recorder)
        hosts.append(host)
        return host, recorder

    yield open_
    for host in hosts:
        host.close()
