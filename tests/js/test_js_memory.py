"""The JS heap limit follows the plug-in's memory budget (plugins/js/hostile/memory_budget.js).

Told the budget (config `wasmplug.js.max_memory`, which `with_heap_limit` and the
Sandbox set), the runtime caps the JS heap below it; not told, the first hog's
memory.grow traps (`oom`) and the runtime caps the heap below what it reached, so
later hogs get a catchable `InternalError: out of memory`. Either way the
plug-in stays usable: the trapped call's heap is given back to malloc.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import extism
import pytest

import wasmplug
from wasmplug.js import is_js_plugin, with_heap_limit

from .conftest import built

Load = Callable[..., wasmplug.Plugin]
PAGES = 256
BUDGET = PAGES * 65536


def calls(call: Callable[[str, str], bytes]) -> int:
    return int(json.loads(call("ok", ""))["calls"])


@pytest.mark.timeout(120)
def test_not_told_the_budget_the_runtime_learns_it_from_the_first_oom(load: Load) -> None:
    plugin = load("hostile/memory_budget.js", memory={"max_pages": PAGES})
    with pytest.raises(wasmplug.CallError, match=r"^oom: ") as caught:
        plugin.call("hog", "")
    assert caught.value.limit == "memory.max_pages"
    assert calls(plugin.call) == 1  # usable again (the trap reset the module)
    for _ in range(3):
        with pytest.raises(wasmplug.CallError, match=r"^InternalError: out of memory") as caught:
            plugin.call("hog", "")
        assert caught.value.limit is None  # a JS error now, not a trap
        with pytest.raises(wasmplug.CallError, match=r"^Error: thrown after the hog"):
            plugin.call("hog_then_throw", "")
        held = json.loads(plugin.call("hog_caught", ""))
        assert held["error"] == "InternalError: out of memory"
        assert held["held"] >= BUDGET // 4
    assert calls(plugin.call) == 11  # no trap since the first: the globals survived


@pytest.mark.timeout(120)
def test_told_the_budget_the_first_hog_is_already_a_js_error(load: Load) -> None:
    manifest = with_heap_limit({"memory": {"max_pages": PAGES}})
    assert manifest["config"]["wasmplug.js.max_memory"] == str(BUDGET)
    plugin = load("hostile/memory_budget.js", config=manifest["config"], memory={"max_pages": PAGES})
    with pytest.raises(wasmplug.CallError, match=r"^InternalError: out of memory"):
        plugin.call("hog", "")
    held = json.loads(plugin.call("hog_caught", ""))
    assert held == {"error": "InternalError: out of memory", "held": held["held"], "calls": 2}
    assert held["held"] >= BUDGET // 4
    assert calls(plugin.call) == 3


@pytest.mark.timeout(120)
def test_under_the_official_sdk_the_plugin_is_not_bricked_by_a_hog() -> None:
    plugin = extism.Plugin({"wasm": [{"data": built("hostile/memory_budget.js")}],
                            "memory": {"max_pages": PAGES}}, wasi=True)
    with pytest.raises(extism.Error, match="oom"):
        plugin.call("hog", "")
    assert calls(plugin.call) == 1
    with pytest.raises(extism.Error, match="InternalError: out of memory"):
        plugin.call("hog", "")
    assert json.loads(plugin.call("hog_caught", ""))["error"] == "InternalError: out of memory"
    assert calls(plugin.call) == 4


def test_wasmplug_call_tells_a_built_plugin_its_budget(tmp_path: Path) -> None:
    """`wasmplug call x.wasm --memory-max N` on a built JS plug-in: the first hog is a JS error,
    and WASI is on without --wasi; other plug-ins are not marked as JS."""
    wasm = tmp_path / "budget.wasm"
    wasm.write_bytes(built("hostile/memory_budget.js"))
    assert is_js_plugin(wasm.read_bytes())
    assert not is_js_plugin((Path(__file__).parents[2] / "plugins/assemblyscript/echo.wasm").read_bytes())
    done = subprocess.run([sys.executable, "-m", "wasmplug", "call", str(wasm), "hog", "--memory-max",
                           str(PAGES)], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode != 0
    assert "InternalError: out of memory" in done.stderr and "oom" not in done.stderr
