"""Fixtures of the JavaScript tests (the runtime itself is built by ../conftest.py)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import wasmplug
from wasmplug import js

JS = Path(__file__).resolve().parent.parent.parent / "plugins" / "js"


def source(name: str) -> str:
    return (JS / name).read_text()


_built: dict[str, bytes] = {}


def built(name: str) -> bytes:
    """The plug-in built from plugins/js/<name> (built once per run)."""
    if name not in _built:
        _built[name] = js.build(source(name), filename=Path(name).name)
    return _built[name]


@pytest.fixture
def load() -> Callable[..., wasmplug.Plugin]:
    """load("game.js", **manifest) -> a wasmplug Plugin of that fixture (closed afterwards)."""
    opened: list[wasmplug.Plugin] = []

    def make(name: str, config: dict[str, str] | None = None, **manifest: Any) -> wasmplug.Plugin:
        plugin = wasmplug.Plugin({"wasm": [{"data": built(name)}], **manifest}, wasi=True, config=config)
        opened.append(plugin)
        return plugin

    yield make  # type: ignore[misc]
    for plugin in opened:
        plugin.close()


def event(player: str, cell: int) -> str:
    return json.dumps({"player_id": player, "event_name": "cell-clicked", "value": {"cell": cell}})
