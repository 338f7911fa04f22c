"""The pre-initialised sandbox runtime (wasmplug/js/snapshot.py)."""

from __future__ import annotations

import json
import logging

import pytest
import wasmtime

import wasmplug
from wasmplug import js
from wasmplug.js import prebuilt, snapshot
from wasmplug.js.embed import resolve_host_slots
from wasmplug.js.plugin_build import load_request


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


# Every built-in object and prototype reachable from the globals, each own property with
# its attributes, and what a function's name and length are.
_BUILTINS = """function list() {
  const seen = new Set(), out = [], own = Object.getOwnPropertyDescriptor;
  const walk = (o, path) => {
    if (o === null || (typeof o !== 'object' && typeof o !== 'function') || seen.has(o)) return;
    seen.add(o);
    for (const k of Reflect.ownKeys(o)) {
      const d = own(o, k), v = d.value;
      out.push([path, String(k), d.writable, d.enumerable, d.configurable, typeof v,
                typeof v === 'function' ? [v.name, v.length] : null]);
    }
    const p = typeof o === 'function' ? own(o, 'prototype') : undefined;
    if (p && 'value' in p) walk(p.value, path + '.prototype');
    walk(Object.getPrototypeOf(o), path + '.__proto__');
  };
  for (const k of Reflect.ownKeys(globalThis)) {
    const d = own(globalThis, k);
    if (d && 'value' in d && k !== 'globalThis' && k !== 'self') walk(d.value, String(k));
  }
  return JSON.stringify(out);
}"""


def _builtins(runtime: bytes) -> list[object]:
    with wasmplug.Plugin(runtime, wasi=True) as plugin:
        plugin.call("__wasmplug_load", load_request(_BUILTINS, "list.js"))
        listing: list[object] = json.loads(plugin.call("__wasmplug_invoke", b"slist\0"))
        return listing


def test_built_ins_made_in_the_snapshot_are_the_ones_quickjs_makes_on_first_use() -> None:
    """The pre-initialised runtime already holds every built-in function (made at first
    read otherwise): the same properties, in the same order, with the same attributes."""
    preinitialised = _builtins(js.bare_runtime_bytes())
    plain = _builtins(resolve_host_slots(js.runtime_bytes()))
    assert len(plain) > 1000
    assert preinitialised == plain
