"""The hostile JS corpus (plugins/js/hostile): limits hold, the plug-in survives."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import pytest

import wasmplug
from wasmplug.js import with_heap_limit

from ..http_server import serve

Load = Callable[..., wasmplug.Plugin]


@pytest.mark.timeout(60)
def test_memory_hog_gets_a_js_out_of_memory_error(load: Load) -> None:
    """Told the budget (as `with_heap_limit` does), the runtime caps the JS heap below it."""
    config = with_heap_limit({"memory": {"max_pages": 256}})["config"]
    assert config == {"wasmplug.js.max_memory": str(256 * 65536),
                      "wasmplug.js.wasm_stack": str(1536 * 1024)}
    plugin = load("hostile/memory_hog.js", config=config, memory={"max_pages": 256})
    for _ in range(2):
        with pytest.raises(wasmplug.CallError, match="InternalError: out of memory"):
            plugin.call("hog", "")
        assert plugin.call("ok", "") == b"ok"
    with pytest.raises(wasmplug.CallError, match=r"out of memory|RangeError"):
        plugin.call("huge_buffer", "")
    assert plugin.call("ok", "") == b"ok"


@pytest.mark.timeout(30)
def test_endless_loops_time_out_and_the_plugin_survives(load: Load) -> None:
    plugin = load("hostile/endless_loop.js", timeout_ms=300)
    for name in ("spin", "spin_catching", "spin"):
        started = time.monotonic()
        with pytest.raises(wasmplug.CallTimeout):
            plugin.call(name, "")
        assert time.monotonic() - started < 1.8
        assert plugin.call("ok", "") == b"ok"


@pytest.mark.timeout(60)
def test_unbounded_recursion_is_an_error_not_a_crash(load: Load) -> None:
    plugin = load("hostile/deep_recursion.js")
    for _ in range(3):
        with pytest.raises(wasmplug.CallError, match="Maximum call stack size exceeded"):
            plugin.call("recurse", "")
        assert plugin.call("ok", "") == b"ok"
    with pytest.raises(wasmplug.CallError, match="stack"):
        plugin.call("deep_json", "")
    assert plugin.call("ok", "") == b"ok"


def test_no_allowed_hosts_no_network(load: Load, tmp_path: Path) -> None:
    with serve(tmp_path) as url:
        plugin = load("hostile/network.js")
        for target in (f"{url}/echo", "http://localhost:1/", "file:///etc/passwd"):
            with pytest.raises(wasmplug.CallError, match=r"not allowed|Invalid URL"):
                plugin.call("fetch", target)
    assert plugin.call("ok", "") == b"ok"


def test_no_way_out_of_the_sandbox(load: Load) -> None:
    found = json.loads(load("hostile/escape.js").call("probe", ""))
    assert found.pop("eval") == "function"  # eval is JS, and stays inside the sandbox
    # fetch is the JS PDK's, over the host's http_request: allowed_hosts applies (test_js_globals)
    assert found.pop("fetch") == "function"
    assert set(found.values()) == {"undefined"}


@pytest.mark.timeout(60)
def test_memory_hog_without_the_heap_limit_fails_with_oom(load: Load) -> None:
    """Not told the budget, the hog's memory.grow past max_pages traps the call: `oom`."""
    plugin = load("hostile/memory_hog.js", memory={"max_pages": 256})
    with pytest.raises(wasmplug.CallError, match=r"^oom: ") as caught:
        plugin.call("hog", "")
    assert caught.value.limit == "memory.max_pages"
