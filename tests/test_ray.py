"""Plug-ins across Ray actors, on a local Ray instance started by the tests."""

from __future__ import annotations

import faulthandler
import json
import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from wasmplug import CallError, Function
from wasmplug.distributed import ActorDied, RayPluginPool, plugin_actor, portable_manifest

from .conftest import wasm

pytestmark = pytest.mark.ray_in_process  # runs after every other test (tests/conftest.py)

ray = pytest.importorskip("ray", reason="Ray is not installed: pip install 'wasmplug[ray]'")


@pytest.fixture(scope="module")
def local_ray() -> Iterator[Any]:
    enabled_before = faulthandler.is_enabled()
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             configure_logging=False, ignore_reinit_error=True)
    if not enabled_before and faulthandler.is_enabled():
        # Ray turned faulthandler on in front of wasmtime's signal handlers (this process ran
        # plug-ins before ray.init, against docs/concurrency.md's advice): the next trap in
        # any later test would kill pytest. Turning it off puts wasmtime's handlers back.
        faulthandler.disable()
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


# An echo that calls the host's `tick` first: the tick marks each call in a
# file (so the test sees a map in progress) and takes ~2 ms.
SLOW_ECHO = """
(module
  (import "extism:host/user" "tick" (func $tick))
  (import "extism:host/env" "input_offset" (func $input_offset (result i64)))
  (import "extism:host/env" "input_length" (func $input_length (result i64)))
  (import "extism:host/env" "output_set" (func $output_set (param i64 i64)))
  (func (export "echo") (result i32)
    (call $tick)
    (call $output_set (call $input_offset) (call $input_length))
    (i32.const 0)))
"""


def ticking(marks: Path) -> Function:
    def tick(*_: object) -> None:
        with open(marks, "ab") as f:
            f.write(b".")
        time.sleep(0.002)  # the work a call does

    return Function("extism:host/user", "tick", [], [], tick)


def pids(pool: RayPluginPool) -> list[int]:
    return [ray.get(actor.pid.remote(), timeout=60) for actor in pool.actors]


def kill_during_map(pool: RayPluginPool, marks: Path, inputs: list[bytes]) -> tuple[
        list[bytes] | None, BaseException | None, int]:
    """Run `map` in a thread; kill actor 0's worker once the map has made 20 calls."""
    before = pids(pool)
    done: dict[str, Any] = {}

    def run() -> None:
        try:
            done["outputs"] = pool.map("echo", inputs, timeout=120)
        except BaseException as exc:
            done["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while (not marks.exists() or marks.stat().st_size < 20) and time.monotonic() < deadline:
        time.sleep(0.005)
    assert marks.stat().st_size < len(inputs), "the map ended before the kill"
    os.kill(before[0], signal.SIGKILL)
    thread.join(150)
    assert not thread.is_alive()
    return done.get("outputs"), done.get("error"), before[0]


def back_to_full_strength(pool: RayPluginPool, killed: int) -> float:
    """Seconds until every actor answers again from a live worker (polled, at most 60 s)."""
    start = time.monotonic()
    for actor in pool.actors:
        while True:
            try:
                pid = ray.get(actor.pid.remote(), timeout=60)
                break
            except ray.exceptions.RayActorError:  # sent before Ray saw the death
                assert time.monotonic() - start < 60, "the actor never came back"
    now = pids(pool)
    assert killed not in now and len(set(now)) == len(pool.actors), (pid, now)
    return time.monotonic() - start


@pytest.mark.timeout(300)
def test_pool_survives_a_killed_actor(local_ray: Any, tmp_path: Path) -> None:
    marks = tmp_path / "marks"
    pool = RayPluginPool(SLOW_ECHO, num_actors=2, num_cpus_per_actor=0.5,
                         functions=[ticking(marks)])
    try:
        inputs = [f"input {i}".encode() for i in range(600)]
        outputs, error, killed = kill_during_map(pool, marks, inputs)
        # Only the call the dead actor was running is lost, and the error says which actor.
        assert outputs is None and isinstance(error, ActorDied), error
        assert error.actor == pool.names[0] and pool.names[0] in str(error)
        assert "may or may not have run" in str(error)
        assert error.outputs is not None
        lost = [i for i, out in enumerate(error.outputs) if out is None]
        assert len(lost) == 1 and lost[0] % 2 == 0  # on actor 0's lane
        assert [out for out in error.outputs if out is not None] == [
            data for i, data in enumerate(inputs) if i != lost[0]]
        recovery = back_to_full_strength(pool, killed)
        print(f"back to full strength {recovery:.2f} s after the map")
        assert pool.map("echo", inputs[:40], timeout=60) == inputs[:40]
        assert [pool.call("echo", f"{i}", timeout=60) for i in range(10)] == [
            f"{i}".encode() for i in range(10)]
        # Killed while idle: the pool is whole again once Ray restarted it.
        idle = pids(pool)[1]
        os.kill(idle, signal.SIGKILL)
        recovery = back_to_full_strength(pool, idle)
        print(f"back to full strength {recovery:.2f} s after an idle kill")
        assert pool.map("echo", inputs[:40], timeout=60) == inputs[:40]
        assert [pool.call("echo", f"{i}", timeout=60) for i in range(10)] == [
            f"{i}".encode() for i in range(10)]
    finally:
        pool.shutdown()


@pytest.mark.timeout(300)
def test_idempotent_pool_loses_nothing_to_a_killed_actor(local_ray: Any, tmp_path: Path) -> None:
    marks = tmp_path / "marks"
    pool = RayPluginPool(SLOW_ECHO, num_actors=2, num_cpus_per_actor=0.5, idempotent=True,
                         functions=[ticking(marks)])
    try:
        inputs = [f"input {i}".encode() for i in range(600)]
        outputs, error, killed = kill_during_map(pool, marks, inputs)
        assert error is None and outputs == inputs
        back_to_full_strength(pool, killed)
    finally:
        pool.shutdown()
