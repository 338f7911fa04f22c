"""Plug-ins across Ray actors, on a local Ray instance started by the tests."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from wasmplug import CallError
from wasmplug.distributed import RayPluginPool, plugin_actor, portable_manifest

from .conftest import wasm

ray = pytest.importorskip("ray", reason="Ray is not installed: pip install 'wasmplug[ray]'")


@pytest.fixture(scope="module")
def local_ray() -> Iterator[Any]:
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             configure_logging=False, ignore_reinit_error=True)
    yield ray
    ray.shutdown()


def test_portable_manifest_ships_bytes_not_paths() -> None:
    manifest = portable_manifest({"wasm": [{"path": str(wasm("echo")), "name": "main"}],
                                  "timeout_ms": 50, "config": {"a": "b"}})
    assert manifest["wasm"] == [{"data": wasm("echo").read_bytes(), "name": "main"}]
    assert manifest["timeout_ms"] == 50 and manifest["config"] == {"a": "b"}
    url = portable_manifest({"wasm": [{"url": "https://example.com/x.wasm", "hash": "a" * 64}]})
    assert url["wasm"] == [{"url": "https://example.com/x.wasm", "headers": {}, "hash": "a" * 64}]


def test_actor_round_trip(local_ray: Any) -> None:
    actor = plugin_actor(str(wasm("count_vowels")), config={"vowels": "o"})
    out = json.loads(local_ray.get(actor.call.remote("count_vowels", b"foo boo")))
    assert out["count"] == 4
    assert local_ray.get(actor.function_exists.remote("count_vowels"))
    local_ray.kill(actor)


def test_pool_spreads_calls_and_keeps_order(local_ray: Any) -> None:
    pool = RayPluginPool(str(wasm("echo")), num_actors=2, num_cpus_per_actor=0.5)
    try:
        inputs = [f"message {i}".encode() for i in range(200)]
        assert pool.map("echo", inputs, timeout=60) == inputs
        assert pool.call("echo", "single", timeout=30) == b"single"
        refs = [pool.call_async("echo", str(i)) for i in range(10)]
        assert local_ray.get(refs) == [str(i).encode() for i in range(10)]
        # Each actor holds its own instance: state is per actor.
        totals = {json.loads(o)["total"] for o in RayPluginPool(
            str(wasm("count_vowels")), num_actors=2, num_cpus_per_actor=0.5
        ).map("count_vowels", ["a"] * 4, timeout=60)}
        assert totals == {1, 2}
    finally:
        pool.shutdown()


def test_plugin_errors_come_back_as_wasmplug_errors(local_ray: Any) -> None:
    pool = RayPluginPool(str(wasm("errors")), num_actors=1, num_cpus_per_actor=0.5)
    try:
        with pytest.raises(CallError, match="remote failure"):
            pool.call("fail_with_message", "remote failure", timeout=30)
        assert pool.call("ok", b"", timeout=30) == b"ok"
    finally:
        pool.shutdown()
