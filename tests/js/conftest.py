"""The JavaScript runtime is built once per test run, before the tests start.

The build (~1 minute) runs in `pytest_collection_finish`, outside every test's
timeout; each of its steps is bounded by `build_runtime.STEP_TIMEOUT`. Set
WASMPLUG_JS_RUNTIME to an already built runtime.wasm to skip it.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import wasmplug
from wasmplug import js
from wasmplug.js import build_runtime

JS = Path(__file__).resolve().parent.parent.parent / "plugins" / "js"


def pytest_collection_finish(session: pytest.Session) -> None:
    if os.environ.get("WASMPLUG_JS_RUNTIME"):
        return
    if not any("tests/js/" in item.nodeid for item in session.items):
        return
    target = Path(tempfile.mkdtemp(prefix="wasmplug-js-runtime-")) / "runtime.wasm"
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(f"building the JavaScript runtime into {target} (about a minute)")
    build_runtime.build(target)
    os.environ["WASMPLUG_JS_RUNTIME"] = str(target)


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
