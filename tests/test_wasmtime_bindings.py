"""wasmplug._wasmtime: the core's own bindings to libwasmtime free what they own, once.

The leak check runs 10,000 create/use/close rounds of everything a plug-in
owns (store, linker clone, instance, WASI context with output callbacks, a
host function) and counts resident memory, open files and the callbacks
wasmtime still holds. The double-free checks run in a child process, so a
crash is a failure and not the end of the test run.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from wasmplug import _wasmtime as wasmtime
from wasmplug._engine import runtime
from wasmplug._wasmtime._held import held

from .waiting import wait_until

WAT = """(module
  (import "host" "add" (func $add (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 16) "hello\\n")
  (func (export "run") (result i32)
    (i32.store (i32.const 0) (i32.const 16))
    (i32.store (i32.const 4) (i32.const 6))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))
    (i32.store8 (i32.const 40000) (i32.const 1))  ;; touch a second page of memory
    (call $add (i32.const 2) (i32.const 3))))
"""


def _rss_kib() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * (os.sysconf("SC_PAGE_SIZE") // 1024)


def _fds() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.mark.timeout(300)
def test_ten_thousand_stores_leak_no_memory_files_or_callbacks() -> None:
    engine = runtime().engine
    module = wasmtime.Module(engine, WAT)
    i32 = wasmtime.ValType.i32()
    template = wasmtime.Linker(engine)
    template.define_wasi()
    template.define_func("host", "add", wasmtime.FuncType([i32, i32], [i32]), lambda a, b: a + b)
    written: list[int] = []

    def round_trip() -> None:
        store = wasmtime.Store(engine)
        store.set_epoch_deadline(1_000_000)
        config = wasmtime.WasiConfig()
        config.argv = ["x"]
        config.env = [("A", "b")]
        config.stdout_custom = lambda data: written.append(len(data))
        config.stderr_custom = lambda data: None
        store.set_wasi(config)
        linker = template.clone()
        instance = linker.instantiate(store, module)
        run = instance.exports(store)["run"]
        assert isinstance(run, wasmtime.Func)
        assert run(store) == 5
        store.close()

    for _ in range(1_000):  # warm up: allocator pools, ctypes caches
        round_trip()
    before = set(held)  # the template's host function (and maybe the last round's outputs)
    baseline_fds, baseline_rss = _fds(), _rss_kib()
    for _ in range(10_000):
        round_trip()
    growth = _rss_kib() - baseline_rss
    # A leaked store keeps at least its instance's two touched pages of memory (128 KiB):
    # 10,000 of them would be 1.2 GiB; a leak of a few hundred bytes each shows up too.
    assert growth < 8 * 1024, f"resident memory grew by {growth} KiB over 10,000 stores"
    assert _fds() <= baseline_fds
    # Every output callback released by wasmtime (from a worker thread, soon after the close).
    wait_until(lambda: set(held) <= before, "wasmtime to release the output callbacks", 10)
    assert sum(written) == 6 * 11_000


def _child(code: str) -> subprocess.CompletedProcess[str]:
    prelude = textwrap.dedent("""
        import gc
        from wasmplug import _wasmtime as w
        from wasmplug._wasmtime._held import held
        WAT = '(module (memory (export "m") 1) (func (export "f") (result i32) i32.const 7))'
    """)
    return subprocess.run([sys.executable, "-c", prelude + textwrap.dedent(code)],
                          capture_output=True, text=True, timeout=120)


def test_close_twice_and_drop_in_any_order_frees_each_object_once() -> None:
    result = _child("""
        for order in range(6):
            engine = w.Engine()
            module = w.Module(engine, WAT)
            store = w.Store(engine)
            linker = w.Linker(engine)
            config = w.WasiConfig()
            config.stdout_custom = lambda data: None
            store.set_wasi(config)
            instance = linker.instantiate(store, module)
            clone = linker.clone()
            objects = [engine, module, store, linker, instance, clone]
            store.close()
            store.close()  # again: nothing
            # Drop them in a rotating order: the engine first, the store last, ...
            objects = objects[order:] + objects[:order]
            del engine, module, store, linker, instance, clone
            while objects:
                objects.pop(0)
                gc.collect()
            del config  # given to a store: owned (and freed) by it, not by us
        assert not held, held
        print("ok")
    """)
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr


def test_a_closed_store_and_its_items_refuse_use_instead_of_crashing() -> None:
    result = _child("""
        engine = w.Engine()
        store = w.Store(engine)
        instance = w.Linker(engine).instantiate(store, w.Module(engine, WAT))
        f, m = instance.exports(store)["f"], instance.exports(store)["m"]
        assert f(store) == 7
        store.close()
        for use in (lambda: f(store), lambda: m.data_len(store), lambda: instance.exports(store),
                    lambda: store.set_fuel(1), lambda: store.set_limits(memory_size=1)):
            try:
                use()
            except w.WasmtimeError as exc:
                assert "closed" in str(exc)
            else:
                raise AssertionError("a closed store was used")
        print("ok")
    """)
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr


def test_used_up_configs_are_not_freed_again() -> None:
    config = wasmtime.Config()
    engine = wasmtime.Engine(config)
    with pytest.raises(wasmtime.WasmtimeError, match="used by an Engine"):
        wasmtime.Engine(config)
    wasi = wasmtime.WasiConfig()
    store = wasmtime.Store(engine)
    store.set_wasi(wasi)
    with pytest.raises(wasmtime.WasmtimeError, match="given to a store"):
        store.set_wasi(wasi)
    store.close()


def test_host_function_exception_is_re_raised_and_errors_are_readable() -> None:
    engine = runtime().engine
    store = wasmtime.Store(engine)
    store.set_epoch_deadline(1_000_000)
    linker = wasmtime.Linker(engine)
    i32 = wasmtime.ValType.i32()

    class Boom(Exception):
        pass

    def fail(caller: wasmtime.Caller, a: int) -> int:
        memory = caller.get("memory")
        assert isinstance(memory, wasmtime.Memory) and memory.data_len(caller) == 65536
        raise Boom(a)

    linker.define_func("host", "fail", wasmtime.FuncType([i32], [i32]), fail, access_caller=True)
    module = wasmtime.Module(engine, """(module (import "host" "fail" (func $f (param i32) (result i32)))
        (memory (export "memory") 1)
        (func (export "go") (result i32) (call $f (i32.const 41)))
        (func (export "trap") unreachable))""")
    exports = linker.instantiate(store, module).exports(store)
    go, trap = exports["go"], exports["trap"]
    assert isinstance(go, wasmtime.Func) and isinstance(trap, wasmtime.Func)
    with pytest.raises(Boom, match="41"):
        go(store)
    with pytest.raises(wasmtime.Trap, match="unreachable") as info:
        trap(store)  # the earlier exception is not reported again
    assert info.value.trap_code == 9  # WASMTIME_TRAP_CODE_UNREACHABLE_CODE_REACHED
    with pytest.raises(wasmtime.WasmtimeError, match="expected"):
        wasmtime.wat2wasm("(module (func (export)))")
    with pytest.raises(wasmtime.WasmtimeError):
        wasmtime.Module.validate(engine, b"\0asm\x01\0\0\0\x99")


def test_proc_exit_is_an_exit_trap_with_its_status() -> None:
    engine = runtime().engine
    store = wasmtime.Store(engine)
    store.set_epoch_deadline(1_000_000)
    store.set_wasi(wasmtime.WasiConfig())
    linker = wasmtime.Linker(engine)
    linker.define_wasi()
    module = wasmtime.Module(engine, """(module
        (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
        (memory (export "memory") 1)
        (func (export "_start") (call $exit (i32.const 3))))""")
    start = linker.instantiate(store, module).exports(store)["_start"]
    assert isinstance(start, wasmtime.Func)
    with pytest.raises(wasmtime.ExitTrap) as info:
        start(store)
    assert info.value.code == 3


def test_the_wasmtime_package_is_not_imported() -> None:
    result = _child("""
        import sys
        store = w.Store(w.Engine())
        w.Linker(store.engine).instantiate(store, w.Module(store.engine, WAT))
        assert "wasmtime" not in sys.modules
        print("ok")
    """)
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr
