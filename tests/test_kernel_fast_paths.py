"""The host's shortcuts around kernel calls (issue 23): they change nothing but the cost.

- `Kernel.alloc` / `alloc_bytes` and `begin_call` take kernel.wat's bump path in Python: after any
  sequence of allocations, frees, resets and guest scribbles over the kernel's
  bookkeeping, a kernel driven through them holds the same memory, byte for
  byte, as one whose every allocation was a call to its `alloc` export.
- config_get, var_get and var_set take their handles in the kernel and call the
  host once: a call that uses all three makes no call into the kernel from
  Python besides the one that places the input (bound once, not counted here).
"""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

import wasmplug
from wasmplug import _callpath
from wasmplug import _wasmtime as wasmtime
from wasmplug._engine import EngineSettings, runtime
from wasmplug._kernel import MASK64, Kernel, KernelMemoryError

from .conftest import standalone_imports, wasm


def new_kernel() -> Kernel:
    rt = runtime(EngineSettings())
    store = wasmtime.Store(rt.engine)
    store.set_epoch_deadline(1 << 40)
    instance = wasmtime.Instance(store, rt.kernel, standalone_imports(store))
    return Kernel(store, instance, _callpath.get("raw"))


def reference_alloc_bytes(kernel: Kernel, data: bytes) -> int:
    """alloc_bytes as it was: always the kernel's `alloc` export."""
    offset: int = kernel.call.i64_i64("alloc", len(data)) & MASK64
    if offset:
        kernel.write(offset, data)
    return offset


def reference_begin_call(kernel: Kernel, data: bytes) -> bool:
    """begin_call as it was: always the kernel's `wasmplug_begin_call` export."""
    try:
        offset = kernel._begin_call(len(data)) & MASK64
    except wasmtime.Trap:
        if kernel.take_oom():
            return False
        raise
    if data and offset:
        kernel.write(offset, data)
    return not data or offset != 0


def image(kernel: Kernel) -> bytes:
    kernel.refresh()
    return kernel.view[:kernel.size].tobytes()  # the whole memory, the vault too


sizes = st.one_of(st.integers(1, 64), st.integers(65, 5_000), st.integers(60_000, 70_000),
                  st.sampled_from([0, 65_472 - 12, 65_472 - 11, 1 << 16, (1 << 16) + 1]))
operations = st.lists(st.one_of(
    st.tuples(st.just("alloc"), sizes),
    st.tuples(st.just("alloc_bytes"), sizes),
    st.tuples(st.just("free"), st.integers(0, 50)),          # the n-th block handed out
    st.tuples(st.just("begin_call"), st.one_of(st.integers(0, 3_000), st.integers(60_000, 70_000))),
    st.tuples(st.just("reset"), st.just(0)),
    # the guest scribbling over the kernel's bookkeeping
    st.tuples(st.just("poke_position"), st.one_of(st.integers(0, 200_000), st.just(MASK64 - 5))),
    st.tuples(st.just("poke_length"), st.one_of(st.integers(0, 200_000), st.just(MASK64))),
    st.tuples(st.just("poke_flag"), st.integers(0, 1)),
    # what a guest may write before the kernel is initialised: the output length, the
    # first block's header (begin_call's $init, in Python too, must clear them)
    st.tuples(st.sampled_from(["poke_output_length", "poke_header"]), st.integers(0, MASK64)),
), max_size=40)


def apply(kernel: Kernel, op: str, arg: int, handed_out: list[int], fast: bool) -> Any:
    if op == "alloc":
        result = kernel.alloc(arg) if fast else kernel.call.i64_i64("alloc", arg) & MASK64
    elif op == "alloc_bytes":
        data = bytes(i % 251 + 1 for i in range(arg))
        result = kernel.alloc_bytes(data) if fast else reference_alloc_bytes(kernel, data)
    elif op == "free":
        result = None
        if handed_out:
            kernel.free(handed_out[arg % len(handed_out)])
    elif op == "begin_call":
        data = bytes(i % 251 + 1 for i in range(arg))
        result = kernel.begin_call(data) if fast else reference_begin_call(kernel, data)
    elif op == "reset":
        kernel.reset()
        result = None
    else:
        at = {"poke_position": 9, "poke_length": 17, "poke_flag": 1, "poke_output_length": 57,
              "poke_header": 65}[op]
        kernel.write(at, arg.to_bytes(1 if op == "poke_flag" else 8, "little"))
        result = None
    if op in ("alloc", "alloc_bytes") and result:
        handed_out.append(result)
    return result


@settings(max_examples=150, deadline=None, database=None)
@given(ops=operations)
def test_python_bump_allocation_matches_the_kernel(ops: list[tuple[str, int]]) -> None:
    fast, reference = new_kernel(), new_kernel()
    fast_handles: list[int] = []
    reference_handles: list[int] = []
    for op, arg in ops:
        outcomes = []
        for kernel, handles, is_fast in ((fast, fast_handles, True),
                                         (reference, reference_handles, False)):
            try:
                outcomes.append(("ok", apply(kernel, op, arg, handles, is_fast)))
            except (wasmtime.Trap, wasmtime.WasmtimeError, MemoryError, KernelMemoryError) as exc:
                outcomes.append(("error", type(exc).__name__))
        assert outcomes[0] == outcomes[1], (op, arg, outcomes)
        assert image(fast) == image(reference), (op, arg)


def test_the_bump_path_is_taken_without_a_kernel_call() -> None:
    kernel = new_kernel()
    kernel.begin_call(b"input")
    calls: list[str] = []
    real = kernel.call

    class Counting:
        def __getattr__(self, name: str) -> Any:
            calls.append(name)
            return getattr(real, name)

    kernel.call = Counting()
    first = kernel.alloc_bytes(b"hello")
    second = kernel.alloc(100)
    assert calls == []
    kernel.call = real
    assert kernel.length(first) == 5 and kernel.read(first, 5) == b"hello"
    assert kernel.length(second) == 100 and second == first + 5 + 12
    # growth is the kernel's business: a block larger than the room left calls it
    kernel.call = Counting()
    big = kernel.alloc(70_000)
    assert calls and big and kernel.length(big) == 70_000


def test_a_call_input_is_placed_without_a_kernel_call() -> None:
    """`begin_call` resets the heap and places the input in Python when it surely fits;
    the plug-in reads it as before, and growth is still the kernel's business."""
    plugin = wasmplug.Plugin(wasm("count_vowels").read_bytes())
    assert plugin.call("count_vowels", b"a" * 2_000) == b'{"count":2000,"total":2000,"vowels":"aeiouAEIOU"}'
    kernel = plugin._kernel
    real = kernel._begin_call
    sizes: list[int] = []

    def counting(n: int) -> int:
        sizes.append(n)
        return real(n)

    kernel._begin_call = counting
    try:
        assert plugin.call("count_vowels", b"hello") == b'{"count":2,"total":2002,"vowels":"aeiouAEIOU"}'
        assert plugin.call("count_vowels", b"") == b'{"count":0,"total":2002,"vowels":"aeiouAEIOU"}'
        assert sizes == [0]  # the empty input went to the kernel; "hello" did not
        big = b"e" * 100_000  # more than the heap holds: the kernel grows it
        assert plugin.call("count_vowels", big) == b'{"count":100000,"total":102002,"vowels":"aeiouAEIOU"}'
        assert sizes == [0, 100_000]
    finally:
        kernel._begin_call = real


def test_config_and_vars_cost_no_kernel_call_from_python() -> None:
    plugin = wasmplug.Plugin(wasm("count_vowels").read_bytes(),
                             config={"vowels": "aeiou"})
    assert plugin.call("count_vowels", b"hello") == b'{"count":2,"total":2,"vowels":"aeiou"}'
    calls: list[tuple[str, Any]] = []
    kernel = plugin._kernel
    real = kernel.call

    class Counting:
        def __getattr__(self, name: str) -> Any:
            method = getattr(real, name)

            def counted(*args: Any) -> Any:
                calls.append((name, args[0] if args else None))
                return method(*args)
            return counted

    kernel.call = Counting()
    try:
        # config_get (vowels), var_get (total), var_set (total) on every call
        assert plugin.call("count_vowels", b"hello") == b'{"count":2,"total":4,"vowels":"aeiou"}'
    finally:
        kernel.call = real
    assert calls == []  # (the input is placed through an entry point bound up front)


def test_bad_handles_still_fail_the_call_with_their_names() -> None:
    source = """(module
      (import "extism:host/env" "config_get" (func $config_get (param i64) (result i64)))
      (import "extism:host/env" "var_set" (func $var_set (param i64 i64)))
      (import "extism:host/env" "alloc" (func $alloc (param i64) (result i64)))
      (func (export "bad_config") (result i32) (drop (call $config_get (i64.const 777))) (i32.const 0))
      (func (export "bad_value") (result i32)
        (call $var_set (call $alloc (i64.const 3)) (i64.const 999)) (i32.const 0)))"""
    plugin = wasmplug.Plugin(wasmtime.wat2wasm(source))
    for name, expected in (("bad_config", "invalid handle offset for config key: 777"),
                           ("bad_value", "invalid handle offset for var value: 999")):
        try:
            plugin.call(name, b"")
        except wasmplug.Error as exc:
            assert expected in str(exc)
        else:
            raise AssertionError(f"{name} did not fail")
