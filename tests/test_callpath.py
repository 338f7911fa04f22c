"""The two call paths (raw C API and public API) behave the same."""

from __future__ import annotations

import pytest

from wasmplug import _callpath
from wasmplug import _wasmtime as wasmtime
from wasmplug._engine import EngineSettings, runtime

WAT = """
(module
  (import "host" "add" (func $add (param i64 i64) (result i64)))
  (import "host" "mix" (func $mix (param i32 f64) (result f64)))
  (import "host" "boom" (func $boom (param i64)))
  (func (export "call_add") (param i64 i64) (result i64) (call $add (local.get 0) (local.get 1)))
  (func (export "call_mix") (param i32 f64) (result f64) (call $mix (local.get 0) (local.get 1)))
  (func (export "call_boom") (call $boom (i64.const 7)))
  (func (export "trap") (result i32) unreachable)
  (func (export "seven") (result i32) (i32.const 7))
  (func (export "neg") (param i64) (result i64) (i64.sub (i64.const 0) (local.get 0))))
"""


class Boom(Exception):
    pass


def boom(x: int) -> None:
    raise Boom(f"host function failed with {x}")


def add(a: int, b: int) -> int:
    return a + b


def mix(a: int, b: float) -> float:
    return a * b


@pytest.fixture(params=["raw", "public"])
def env(request: pytest.FixtureRequest) -> tuple[_callpath.CallPath, wasmtime.Store,
                                                  wasmtime.Instance]:
    path = _callpath.get(request.param)
    rt = runtime(EngineSettings())
    store = wasmtime.Store(rt.engine)
    store.set_epoch_deadline(1 << 40)
    linker = wasmtime.Linker(rt.engine)
    I64, I32, F64 = _callpath.I64, _callpath.I32, _callpath.F64
    path.define(linker, "host", "add", (I64, I64), (I64,), add)
    path.define(linker, "host", "mix", (I32, F64), (F64,), mix)
    path.define(linker, "host", "boom", (I64,), (), boom)
    instance = linker.instantiate(store, wasmtime.Module(rt.engine, wasmtime.wat2wasm(WAT)))
    return path, store, instance


def bind(env: tuple[_callpath.CallPath, wasmtime.Store, wasmtime.Instance], name: str,
         params: tuple[str, ...], results: tuple[str, ...]) -> _callpath.Invoker:
    path, store, instance = env
    func = instance.exports(store)[name]
    assert isinstance(func, wasmtime.Func)
    return path.bind(store, func, params, results)


def test_values_round_trip(env: tuple[_callpath.CallPath, wasmtime.Store, wasmtime.Instance]) -> None:
    I64, I32, F64 = _callpath.I64, _callpath.I32, _callpath.F64
    assert bind(env, "call_add", (I64, I64), (I64,))(2, 40) == 42
    assert bind(env, "call_mix", (I32, F64), (F64,))(3, 1.5) == 4.5
    assert bind(env, "seven", (), (I32,))() == 7
    assert bind(env, "neg", (I64,), (I64,))(5) == -5


def test_trap_raises_wasmtime_trap(env: tuple[_callpath.CallPath, wasmtime.Store,
                                              wasmtime.Instance]) -> None:
    trap = bind(env, "trap", (), (_callpath.I32,))
    for _ in range(3):  # and the invoker keeps working afterwards
        with pytest.raises(wasmtime.Trap, match="unreachable"):
            trap()
    assert bind(env, "seven", (), (_callpath.I32,))() == 7


def test_host_exception_is_re_raised_as_itself(env: tuple[_callpath.CallPath, wasmtime.Store,
                                                          wasmtime.Instance]) -> None:
    call_boom = bind(env, "call_boom", (), ())
    with pytest.raises(Boom, match="host function failed with 7"):
        call_boom()
    assert bind(env, "call_add", (_callpath.I64, _callpath.I64), (_callpath.I64,))(1, 1) == 2


def test_unknown_path_name() -> None:
    with pytest.raises(ValueError, match="unknown call path 'fast'"):
        _callpath.get("fast")
