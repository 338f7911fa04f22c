"""Plugin.prepare: a prepared call gives what Plugin.call gives, limits and errors included."""

from __future__ import annotations

import threading
import time

import pytest

import wasmplug
from wasmplug import CallError, CallTimeout, Error

WAT = """
(module
  (import "extism:host/env" "input_offset" (func $input_offset (result i64)))
  (import "extism:host/env" "input_length" (func $input_length (result i64)))
  (import "extism:host/env" "output_set" (func $output_set (param i64 i64)))
  (memory 1)
  (global $calls (mut i32) (i32.const 0))
  (func $echo (export "echo") (result i32)
    (global.set $calls (i32.add (global.get $calls) (i32.const 1)))
    (call $output_set (call $input_offset) (call $input_length))
    (i32.const 0))
  (func (export "calls") (result i32) (global.get $calls))
  (func (export "trap") (result i32) unreachable)
  (func (export "forever") (result i32) (loop $l (br $l)) (i32.const 0))
  (func (export "forever_on_4") (result i32)
    (if (i64.eq (call $input_length) (i64.const 4)) (then (loop $l (br $l))))
    (call $echo)))
"""


def plugin(timeout_ms: int | None = None, **memory: int) -> wasmplug.Plugin:
    manifest: dict[str, object] = {"wasm": [{"data": WAT.encode()}]}
    if timeout_ms is not None:
        manifest["timeout_ms"] = timeout_ms
    if memory:
        manifest["memory"] = memory
    return wasmplug.Plugin(manifest)


def test_a_prepared_call_answers_as_call_does() -> None:
    with plugin(timeout_ms=5_000) as p:
        echo = p.prepare("echo")
        assert isinstance(echo, wasmplug.PreparedCall)
        for data in (b"", b"x", b"hello world", bytes(range(256)) * 40):
            assert echo(data) == p.call("echo", data) == data
        assert echo("text") == b"text"  # type: ignore[arg-type]  # str goes the plain way
        with pytest.raises(CallError) as counted:  # `calls` returns the echo count as its code
            p.call("calls", b"")
        assert counted.value.code == 9  # one instance for call and prepared calls: 4 + 4 + 1


def test_errors_and_limits_are_those_of_call() -> None:
    with plugin(timeout_ms=5_000, max_output_bytes=8) as p:
        trap, echo = p.prepare("trap"), p.prepare("echo")
        with pytest.raises(CallError, match="unreachable") as trapped:
            trap(b"x")
        assert trapped.value.code == 134
        assert echo(b"after") == b"after"  # a fresh instance after the trap, then the short path again
        with pytest.raises(CallError, match="max_output_bytes"):
            echo(b"more than eight bytes")
        assert echo(b"ok") == b"ok"
        with pytest.raises(CallError):
            p.prepare("no_such_export")(b"x")


def test_a_prepared_call_is_stopped_at_its_own_deadline() -> None:
    """The plug-in's timer is armed by the first call and kept for later calls; a call that hangs
    long after that is stopped by its own deadline, not before it, and not never."""
    timeout_s = 0.3
    with plugin(timeout_ms=int(timeout_s * 1000)) as p:
        call = p.prepare("forever_on_4")
        for _ in range(3):
            first = time.monotonic()
            while time.monotonic() < first + timeout_s / 2:  # the first arms the timer
                assert call(b"ab") == b"ab"
            started = time.monotonic()
            with pytest.raises(CallTimeout, match="timeout_ms") as stopped:
                call(b"loop")
            assert time.monotonic() - started >= timeout_s  # never before the call's own deadline
            assert stopped.value.limit == "timeout_ms"
            assert call(b"after") == b"after"


def test_many_short_calls_are_never_stopped() -> None:
    """Calls shorter than the timeout never time out, however long the series."""
    with plugin(timeout_ms=100) as p:
        call = p.prepare("echo")
        deadline = time.monotonic() + 1.0  # several timer periods
        n = 0
        while time.monotonic() < deadline:
            assert call(b"row") == b"row"
            n += 1
        assert n > 100


def test_threads_share_a_prepared_call() -> None:
    with plugin(timeout_ms=5_000) as p:
        call = p.prepare("echo")
        errors: list[BaseException] = []

        def work(tag: int) -> None:
            try:
                for i in range(2_000):
                    data = f"{tag}:{i}".encode()
                    assert call(data) == data
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(t,)) for t in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        assert not errors
        assert not any(t.is_alive() for t in threads)


def test_a_closed_plugin_refuses_prepared_calls() -> None:
    p = plugin()
    call = p.prepare("echo")
    assert call(b"x") == b"x"
    p.close()
    with pytest.raises(Error, match="freed"):
        call(b"x")


def test_close_stops_a_running_prepared_call() -> None:
    p = plugin()
    call = p.prepare("forever")
    failures: list[BaseException] = []
    entered = threading.Event()

    def run() -> None:
        entered.set()
        try:
            call(b"")
        except BaseException as exc:
            failures.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    entered.wait(10)
    deadline = time.monotonic() + 10
    while not p._running and time.monotonic() < deadline:  # the Wasm is running
        time.sleep(0.005)
    p.close()
    thread.join(timeout=30)
    assert not thread.is_alive()
    assert len(failures) == 1 and isinstance(failures[0], CallTimeout)


def test_the_running_plugin_is_set_only_for_plugins_that_call_python(monkeypatch: pytest.MonkeyPatch) -> None:
    """A prepared call skips setting the thread's running plug-in (`_host_env.enter`) when
    nothing the plug-in imports could read it; a plug-in using vars or config still gets it."""
    from wasmplug import _prepared

    entered: list[object] = []
    real_enter = _prepared._enter

    def counting(state: object) -> object:
        entered.append(state)
        return real_enter(state)  # type: ignore[arg-type]

    monkeypatch.setattr(_prepared, "_enter", counting)
    with plugin() as isolated:
        echo = isolated.prepare("echo")
        assert [echo(b"abc") for _ in range(3)] == [b"abc"] * 3
    assert entered == []
    uses_vars = """(module
      (import "extism:host/env" "alloc" (func $alloc (param i64) (result i64)))
      (import "extism:host/env" "store_u8" (func $store_u8 (param i64 i32)))
      (import "extism:host/env" "var_get" (func $var_get (param i64) (result i64)))
      (import "extism:host/env" "var_set" (func $var_set (param i64 i64)))
      (import "extism:host/env" "input_offset" (func $input_offset (result i64)))
      (import "extism:host/env" "output_set" (func $output_set (param i64 i64)))
      (import "extism:host/env" "input_length" (func $input_length (result i64)))
      (import "extism:host/env" "length" (func $length (param i64) (result i64)))
      (memory 1)
      (func (export "swap") (result i32) (local $key i64) (local $old i64)
        (local.set $key (call $alloc (i64.const 1)))
        (call $store_u8 (local.get $key) (i32.const 107))
        (local.set $old (call $var_get (local.get $key)))
        (local.set $key (call $alloc (i64.const 1)))
        (call $store_u8 (local.get $key) (i32.const 107))
        (call $var_set (local.get $key) (call $input_offset))
        (if (i64.ne (local.get $old) (i64.const 0))
          (then (call $output_set (local.get $old) (call $length (local.get $old)))))
        (i32.const 0)))"""
    with wasmplug.Plugin(uses_vars.encode()) as stateful:
        swap = stateful.prepare("swap")
        assert swap(b"zero") == b""  # (the first call makes the instance: the ordinary path)
        entered.clear()
        assert [swap(b"one"), swap(b"two"), swap(b"three")] == [b"zero", b"one", b"two"]
        assert dict(stateful.vars) == {"k": b"three"}
        assert entered == [stateful._host] * 3
