"""Deep native recursion is a catchable JS error, never a trap (plugins/js/hostile/deep_nesting.js).

QuickJS's stack limit is sized from the Wasm stack (see runtime/quickjs_unit.c and
recipe.SOURCE_EDITS); a trap would reset every global of the plug-in.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import extism
import pytest

import wasmplug
from wasmplug.js import with_heap_limit

from .conftest import built

Load = Callable[..., wasmplug.Plugin]
# Depths that must work under wasmplug, and a hostile depth for each kind.
SENSIBLE = {"json": 3000, "stringify": 3000, "parens": 100, "objects": 100, "arrays": 300,
            "blocks": 100, "regexp": 100, "calls": 300, "callbacks": 100}
HOSTILE = 100_000
OVERFLOW = ("caught RangeError: Maximum call stack size exceeded", "caught InternalError: stack overflow",
            "caught SyntaxError: stack overflow")  # the last: from the regular-expression parser


def nest(call: Callable[[str, bytes], bytes], kind: str, depth: int) -> tuple[str, int]:
    out = json.loads(call("nest", f"{kind} {depth}".encode()))
    return out["result"], out["calls"]


@pytest.mark.timeout(120)
def test_deep_nesting_is_catchable_and_globals_survive(load: Load) -> None:
    plugin = load("hostile/deep_nesting.js", config=with_heap_limit({})["config"])
    expected_calls = 0
    for kind, depth in SENSIBLE.items():
        for n, want in ((depth, ("ok",)), (HOSTILE, OVERFLOW), (depth, ("ok",))):
            result, calls = nest(plugin.call, kind, n)
            expected_calls += 1
            assert result in want, (kind, n, result)
            assert calls == expected_calls  # no trap: the module's globals are intact


@pytest.mark.timeout(120)
def test_without_being_told_the_stack_the_runtime_assumes_the_default_and_never_traps(
        load: Load) -> None:
    plugin = load("hostile/deep_nesting.js")
    for i, kind in enumerate(SENSIBLE, 1):
        result, calls = nest(plugin.call, kind, HOSTILE)
        assert result in OVERFLOW and calls == i


@pytest.mark.timeout(120)
def test_under_the_official_sdk_deep_nesting_is_catchable_too() -> None:
    plugin = extism.Plugin({"wasm": [{"data": built("hostile/deep_nesting.js")}]}, wasi=True)
    for i, kind in enumerate(SENSIBLE, 1):
        result, calls = nest(plugin.call, kind, HOSTILE)
        assert result in OVERFLOW and calls == i
    assert nest(plugin.call, "json", 1000) == ("ok", len(SENSIBLE) + 1)
