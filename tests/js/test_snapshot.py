"""The pre-initialised sandbox runtime (wasmplug/js/snapshot.py)."""

from __future__ import annotations

import logging

import pytest
import wasmtime

import wasmplug
from wasmplug import js
from wasmplug.js import prebuilt, snapshot
from wasmplug.js.embed import resolve_host_slots


def test_the_sandbox_runtime_starts_with_quickjs_ready() -> None:
    bare = wasmtime.Module(wasmtime.Engine(), js.bare_runtime_bytes())
    names = {e.name for e in bare.exports}
    assert snapshot.PREINIT not in names and snapshot.CONSTRUCTORS not in names
    assert {"__wasmplug_load", "__wasmplug_invoke"} <= names
    plain = wasmtime.Module(wasmtime.Engine(), resolve_host_slots(js.runtime_bytes()))
    (memory,) = [e.type for e in bare.exports if isinstance(e.type, wasmtime.MemoryType)]
    (plain_memory,) = [e.type for e in plain.exports if isinstance(e.type, wasmtime.MemoryType)]
    assert memory.limits.min > plain_memory.limits.min  # the QuickJS heap is in its data


def test_every_sandbox_draws_its_own_random_numbers() -> None:
    """The context in the snapshot is re-seeded: no two sandboxes share Math.random."""
    draws = set()
    for _ in range(5):
        with js.Sandbox("function f() { return String(Math.random()) }") as box:
            draws.add(box.call())
    assert len(draws) == 5


def test_the_heap_limit_holds_in_the_first_call_of_a_sandbox() -> None:
    hog = "function f() { const a = []; for (;;) a.push(new Array(100000).fill(1)); }"
    with js.Sandbox(hog, max_memory=8 * 2**20) as box, \
            pytest.raises(js.JSError, match="out of memory"):
        box.call()


def test_a_runtime_that_cannot_be_preinitialised_is_used_as_it_is(
        caplog: pytest.LogCaptureFixture) -> None:
    plain = resolve_host_slots(js.runtime_bytes())
    without = plain.replace(snapshot.PREINIT.encode(), b"__wasmplug_preinix")
    with pytest.raises(snapshot.SnapshotError, match="exports no __wasmplug_preinit"):
        snapshot.preinitialise(without)
    with caplog.at_level(logging.WARNING, logger="wasmplug.js"):
        assert prebuilt._preinitialised(without) == without
    assert "could not be pre-initialised" in caplog.text


def test_built_plugins_start_with_quickjs_ready_too() -> None:
    wasm = js.build("export function hi() { Host.outputString('hi ' + Math.random()) }")
    names = {e.name for e in wasmtime.Module(wasmtime.Engine(), wasm).exports}
    assert snapshot.PREINIT not in names and snapshot.CONSTRUCTORS not in names and "hi" in names
    outputs = set()
    for _ in range(3):
        with wasmplug.Plugin(wasm, wasi=True) as plugin:
            outputs.add(plugin.call("hi", b""))
    assert len(outputs) == 3 and all(o.startswith(b"hi 0.") for o in outputs)
