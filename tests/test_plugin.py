"""Plugin / CompiledPlugin: calls, outcomes, lifecycle (ABI.md section 5, SDK section 9).

Every test here runs twice: through the raw hot path and through the public
wasmtime API (the `call_path` fixture).
"""

from __future__ import annotations

import json
import threading
import time

import pytest

import wasmplug
from wasmplug import CallError, CompiledPlugin, Error, Function, LoadError, Plugin

from .conftest import runaway, wasm
from .waiting import cancel_once_running, wait_until

pytestmark = pytest.mark.usefixtures("call_path")


def u64(data: bytes) -> int:
    return int.from_bytes(data, "little")


def test_count_vowels_from_path_bytes_and_manifest() -> None:
    expected = {"count": 3, "total": 3, "vowels": "aeiouAEIOU"}
    path = wasm("count_vowels")
    for source in (str(path), path.read_bytes(), {"wasm": [{"path": str(path)}]},
                   json.dumps({"wasm": [{"path": str(path)}]})):
        with Plugin(source) as plugin:
            assert json.loads(plugin.call("count_vowels", "hello world")) == expected


def test_str_and_bytes_input_and_parse() -> None:
    plugin = Plugin(wasm("echo").read_bytes())
    assert plugin.call("echo", "héllo") == "héllo".encode()
    assert plugin.call("echo", bytearray(b"\x00\xff")) == b"\x00\xff"
    assert plugin.call("echo", b"abc", parse=lambda b: b.decode().upper()) == "ABC"
    assert bytes(plugin.call("echo", b"raw", parse=None)) == b"raw"


def test_non_ascii_input_is_raw_utf8() -> None:
    plugin = Plugin(wasm("count_vowels").read_bytes())
    assert json.loads(plugin.call("count_vowels", "🌎hello🌎world🌎"))["count"] == 3


def test_empty_input_and_empty_output() -> None:
    plugin = Plugin(wasm("echo").read_bytes())
    assert plugin.call("echo", b"") == b""


def test_every_input_size_round_trips_exactly() -> None:
    plugin = Plugin(wasm("echo").read_bytes())
    sizes = [*range(1, 70), 65_407, 65_408, 65_535, 65_536, 65_539, 131_072, 1 << 20]
    for n in sizes:
        data = bytes((i * 7 + n) % 256 for i in range(n)) if n < 70_000 else bytes(n)
        assert plugin.call("echo", data) == data, n


def test_large_call_then_small_calls_stay_correct() -> None:
    plugin = Plugin(wasm("echo").read_bytes())
    big = b"x" * (10 << 20)
    assert plugin.call("echo", big) == big
    for i in range(100):
        assert plugin.call("echo", str(i)) == str(i).encode()


def test_large_call_does_not_make_later_resets_touch_all_memory() -> None:
    # A reset zeroes what the previous call allocated, not the whole memory:
    # a byte far beyond a small call's allocations survives the next reset.
    plugin = Plugin(wasm("echo").read_bytes())
    plugin.call("echo", b"y" * (4 << 20))
    plugin.call("echo", b"small")
    kernel = plugin._kernel
    kernel.write(3 << 20, b"\xab")
    plugin.call("echo", b"small again")
    assert kernel.read(3 << 20, 1) == b"\xab"


def test_missing_export_is_an_error_and_plugin_survives() -> None:
    plugin = Plugin(wasm("echo").read_bytes())
    with pytest.raises(CallError, match=r"^Function not found: nope .*echo") as info:
        plugin.call("nope", b"")
    assert info.value.function == "nope"
    assert plugin.call("echo", b"still here") == b"still here"


def test_missing_export_with_timeout_fails_at_once() -> None:
    manifest = {"wasm": [{"path": str(wasm("echo"))}], "timeout_ms": 5_000}
    plugin = Plugin(manifest)
    start = time.monotonic()
    with pytest.raises(CallError, match="Function not found"):
        plugin.call("nope", b"")
    assert time.monotonic() - start < 2


def test_trap_fails_with_code_134_and_plugin_survives() -> None:
    plugin = Plugin(wasm("wat/trap").read_bytes())
    with pytest.raises(CallError, match="unreachable") as info:
        plugin.call("trap", b"")
    assert info.value.code == 134
    assert plugin.call("ok", b"") == b""


def test_nonzero_return_code_without_message() -> None:
    plugin = Plugin(wasm("wat/return_code").read_bytes())
    with pytest.raises(CallError, match=r"^Error code: 42$") as info:
        plugin.call("fail", b"")
    assert info.value.code == 42
    assert plugin.call("ok", b"") == b""
    assert plugin.call("nothing", b"") == b""


def test_error_message_set_by_plugin() -> None:
    plugin = Plugin(wasm("errors").read_bytes())
    with pytest.raises(Error, match=r"^something broke$"):
        plugin.call("fail_with_message", "something broke")
    with pytest.raises(Error, match=r"^Error code: 7$"):
        plugin.call("fail_code", "7")
    # An error set by the guest fails the call even when it returns 0.
    with pytest.raises(Error, match=r"^set but returned 0$"):
        plugin.call("error_but_zero", b"")
    with pytest.raises(Error, match=r"^abort: boom"):
        plugin.call("abort_now", b"")
    assert plugin.call("ok", b"") == b"ok"


def test_error_is_a_wasmplug_error_and_extism_compatible_name() -> None:
    assert issubclass(CallError, wasmplug.Error)
    assert issubclass(LoadError, wasmplug.Error)


def test_unusable_exports() -> None:
    plugin = Plugin(wasm("wat/odd_exports").read_bytes())
    with pytest.raises(CallError, match="takes 1 parameters"):
        plugin.call("takes_param", b"")
    with pytest.raises(CallError, match="has 2 results, expected 0 or 1"):
        plugin.call("two_results", b"")
    with pytest.raises(CallError, match="returns i64"):
        plugin.call("returns_i64", b"")
    with pytest.raises(CallError, match="Function not found"):
        plugin.call("a_global", b"")
    assert plugin.call("ok", b"") == b""


def test_function_exists() -> None:
    plugin = Plugin(wasm("count_vowels").read_bytes())
    assert plugin.function_exists("count_vowels")
    assert not plugin.function_exists("i_dont_exist")
    odd = Plugin(wasm("wat/odd_exports").read_bytes())
    assert odd.function_exists("ok")
    for name in ("takes_param", "returns_i64", "two_results", "a_global", "memory"):
        assert not odd.function_exists(name), name


def test_globals_persist_across_calls() -> None:
    plugin = Plugin(wasm("wat/counter").read_bytes())
    assert [u64(plugin.call("count", b"")) for _ in range(1000)] == list(range(1000))


def test_start_rebuilds_the_instance_and_clears_vars() -> None:
    plugin = Plugin(wasm("wat/counter").read_bytes())
    plugin.call("count", b"")
    plugin.call("count", b"")
    plugin.vars["kept?"] = b"no"
    plugin_id = plugin.id
    plugin.call("_start", b"")
    assert u64(plugin.call("count", b"")) == 0  # fresh instance
    assert plugin.vars == {}
    assert plugin.id == plugin_id


def test_renew_starts_the_next_call_on_a_fresh_instance() -> None:
    plugin = Plugin(wasm("wat/counter").read_bytes())
    assert [u64(plugin.call("count", b"")) for _ in range(3)] == [0, 1, 2]
    plugin.vars["kept"] = b"yes"
    plugin.renew()
    assert u64(plugin.call("count", b"")) == 0  # memory and globals as when created
    assert plugin.vars == {"kept": b"yes"}
    plugin.renew(keep_vars=False)
    assert u64(plugin.call("count", b"")) == 0 and plugin.vars == {}
    plugin.close()
    with pytest.raises(Error, match="freed"):
        plugin.renew()


def test_reactor_initialisation_runs_once() -> None:
    plugin = Plugin(wasm("wat/reactor").read_bytes())
    assert [u64(plugin.call("inits", b"")) for _ in range(3)] == [1, 1, 1]


def test_constructors_preferred_over_initialize() -> None:
    plugin = Plugin(wasm("wat/ctors").read_bytes())
    assert u64(plugin.call("inits", b"")) == 1


def test_no_guest_code_runs_at_creation() -> None:
    plugin = Plugin(wasm("wat/reactor").read_bytes())
    assert plugin._instance is None
    plugin.call("inits", b"")
    assert plugin._instance is not None


def test_output_register_scribbled_out_of_bounds_is_refused() -> None:
    plugin = Plugin(wasm("wat/output_scribble").read_bytes())
    with pytest.raises(CallError, match="output is out of bounds"):
        plugin.call("scribble", b"")


def test_reset_forgets_kernel_allocations() -> None:
    plugin = Plugin(wasm("echo").read_bytes())
    plugin.call("echo", b"abc")
    assert plugin.reset() is True
    assert plugin._kernel.registers() == (0, 0, 0, 0, 0)
    assert plugin.call("echo", b"after") == b"after"


def test_compiled_plugin_shared_by_plugins() -> None:
    compiled = CompiledPlugin(wasm("count_vowels").read_bytes())
    a, b = Plugin(compiled), Plugin(compiled)
    assert json.loads(a.call("count_vowels", "aaa"))["total"] == 3
    assert json.loads(a.call("count_vowels", "aaa"))["total"] == 6
    assert json.loads(b.call("count_vowels", "aaa"))["total"] == 3  # own vars
    assert a.id != b.id
    assert not a._owns_compiled_plugin
    del a, b
    assert compiled.pointer != -1


def test_free_explicitly_then_by_gc() -> None:
    plugin = Plugin(wasm("echo").read_bytes())
    assert plugin._owns_compiled_plugin
    with plugin as p:
        assert p.call("echo", b"x") == b"x"
    assert plugin.plugin == -1
    assert plugin.compiled_plugin is None
    plugin.__del__()  # idempotent
    with pytest.raises(Error, match="freed"):
        plugin.call("echo", b"x")


def test_plugin_from_compiled_plugin_does_not_free_it() -> None:
    compiled = CompiledPlugin(wasm("echo").read_bytes())
    with Plugin(compiled) as plugin:
        plugin.call("echo", b"")
    assert compiled.pointer == 1
    assert Plugin(compiled).call("echo", b"z") == b"z"


@runaway()
def test_timeout_stops_an_endless_loop_and_plugin_survives() -> None:
    plugin = Plugin({"wasm": [{"path": str(wasm("wat/loop"))}], "timeout_ms": 200})
    start = time.monotonic()
    with pytest.raises(wasmplug.CallTimeout,
                       match=r"^timeout: the call ran longer than timeout_ms \(200 ms\)$") as info:
        plugin.call("forever", b"")
    assert 0.15 < time.monotonic() - start < 3
    assert info.value.code == 134
    assert (info.value.limit, info.value.limit_value) == ("timeout_ms", 200)
    assert plugin.call("ok", b"") == b""


def test_the_epoch_ticker_is_woken_only_for_a_new_earliest_deadline() -> None:
    """Every call schedules its timeout; waking the ticker thread for each one
    cost a thread switch per call. A later deadline leaves its wait as it is;
    an earlier one wakes it, and fires on time."""
    from wasmplug import _wasmtime as wasmtime
    from wasmplug._engine import EpochTicker

    class CountingCondition(threading.Condition):
        notified = 0

        def notify(self, n: int = 1) -> None:
            CountingCondition.notified += 1
            super().notify(n)

    ticker = EpochTicker(wasmtime.Engine())
    ticker._cond = CountingCondition()
    fired = threading.Event()
    far = ticker.schedule(60, lambda: None)
    deadline = time.monotonic() + 10
    while ticker._wake_at < time.monotonic() + 30:  # poll: the ticker waits for the 60 s one
        assert time.monotonic() < deadline, "the ticker never waited for its deadline"
        time.sleep(0.001)
    before = CountingCondition.notified
    ticker.cancel(ticker.schedule(120, lambda: None))
    assert CountingCondition.notified == before  # the ticker sleeps until 60 s either way
    ticker.schedule(0.05, fired.set)
    assert CountingCondition.notified == before + 1
    assert fired.wait(10)
    ticker.cancel(far)


@runaway()
def test_cancel_from_another_thread_repeatedly() -> None:
    plugin = Plugin(wasm("wat/loop").read_bytes())
    handle = plugin.cancel_handle()
    for _ in range(5):
        canceller = cancel_once_running(handle)
        with pytest.raises(wasmplug.CallTimeout, match=r"^timeout: the call was cancelled"):
            plugin.call("forever", b"")
        canceller.join()
        assert plugin.call("ok", b"") == b""
    assert handle.cancel() is False  # nothing running: nothing remembered
    assert plugin.call("ok", b"") == b""


# `forever`: an endless pure-Wasm loop; `ticking`: an endless loop that calls the
# host's `tick` on every turn, so the test sees it still running.
LOOPS = """
(module
  (import "extism:host/user" "tick" (func $tick))
  (func (export "forever") (result i32) (loop $l (br $l)) (i32.const 0))
  (func (export "ticking") (result i32) (loop $l (call $tick) (br $l)) (i32.const 0)))
"""


@runaway()
def test_cancel_interrupts_only_its_own_plugin() -> None:
    ticks = [0]

    def tick(*_: object) -> None:
        ticks[0] += 1

    # One compiled plug-in: both instances share the engine whose epoch a cancel bumps.
    compiled = CompiledPlugin(LOOPS, functions=[Function("extism:host/user", "tick", [], [], tick)])
    victim, bystander = Plugin(compiled), Plugin(compiled)
    stop_bystander = threading.Event()
    outcome: dict[str, str] = {}

    def run_bystander() -> None:
        try:
            bystander.call("ticking", b"")
        except wasmplug.CallTimeout:
            outcome["bystander"] = "stopped by its own handle" if stop_bystander.is_set() else "hit"

    worker = threading.Thread(target=run_bystander)
    worker.start()
    wait_until(lambda: ticks[0] > 0, "the bystander's call to start")
    canceller = cancel_once_running(victim.cancel_handle())
    with pytest.raises(wasmplug.CallTimeout):
        victim.call("forever", b"")
    canceller.join()
    after_cancel = ticks[0]
    # the bystander's loop went round again after the cancel: its epoch check let it go on
    wait_until(lambda: ticks[0] >= after_cancel + 2 or not worker.is_alive(),
               "the bystander to keep running")
    assert worker.is_alive() and outcome == {}
    stop_bystander.set()
    bystander.cancel_handle().cancel()
    worker.join(5)
    assert outcome == {"bystander": "stopped by its own handle"}


def test_concurrent_calls_on_one_plugin_are_serialised() -> None:
    plugin = Plugin(wasm("count_vowels").read_bytes())
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(200):
                assert json.loads(plugin.call("count_vowels", "aeiou"))["count"] == 5
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert json.loads(plugin.call("count_vowels", ""))["total"] == 4 * 200 * 5


def test_import_of_kernel_memory_is_refused_at_load() -> None:
    with pytest.raises(LoadError, match="cannot access non-function exports of extism kernel"):
        Plugin(wasm("wat/import_kernel_memory").read_bytes())


def test_unknown_import_is_named_at_load() -> None:
    with pytest.raises(LoadError, match=r"extism:host/user\.not_provided"):
        Plugin(wasm("wat/import_unknown").read_bytes())


def test_host_only_kernel_functions_cannot_be_imported() -> None:
    with pytest.raises(LoadError, match="Invalid function import from extism:host/env: "
                                        "wasmplug_begin_call"):
        Plugin(wasm("wat/import_bad_kernel_name").read_bytes())


def test_corrupt_and_empty_modules_are_clear_errors() -> None:
    data = wasm("echo").read_bytes()
    for bad in (data[: len(data) // 2], b"\0asm\x01\0\0\0garbage", b"", b"\xff\xfe\x00"):
        with pytest.raises(Error) as info:
            Plugin(bad)
        assert "Unable to compile Extism plugin" in str(info.value) or "manifest" in str(
            info.value).lower()


def test_missing_file_is_a_clear_error() -> None:
    with pytest.raises(LoadError, match=r'Unable to load Wasm file "/nonexistent/x.wasm"'):
        Plugin({"wasm": [{"path": "/nonexistent/x.wasm"}]})


def test_wat_text_loads() -> None:
    plugin = Plugin('(module (func (export "ok") (result i32) (i32.const 0)))')
    assert plugin.call("ok", b"") == b""


def test_reentrant_call_is_refused() -> None:
    plugin = Plugin(wasm("echo").read_bytes())
    plugin._owner = threading.get_ident()  # as if a host function of this call called back
    with pytest.raises(CallError, match="cannot make reentrant calls into plugin"):
        plugin.call("echo", b"")


def test_max_pages_caps_the_plugins_own_memory() -> None:
    plugin = Plugin({"wasm": [{"path": str(wasm("wat/memory_grow"))}], "memory": {"max_pages": 3}})
    with pytest.raises(CallError, match=r"^oom: "):  # refused: the call traps (ABI.md 7.1)
        plugin.call("grow", (5).to_bytes(8, "little"))
    assert u64(plugin.call("grow", (3).to_bytes(8, "little"))) == 4
    with pytest.raises(CallError, match=r"^oom: "):
        plugin.call("grow", (1).to_bytes(8, "little"))
    assert u64(plugin.call("fill", b"")) == 4  # grown pages are usable
    unlimited = Plugin(wasm("wat/memory_grow").read_bytes())
    assert u64(unlimited.call("grow", (50).to_bytes(8, "little"))) == 51


def test_max_pages_caps_the_kernel_memory() -> None:
    plugin = Plugin({"wasm": [{"path": str(wasm("wat/kernel_alloc"))}], "memory": {"max_pages": 4}})
    # Kernel growth (ABI.md 3.5): 100 000 bytes of input take 1 page, the
    # guest's 100 000-byte allocation 2 more: 3 of 4.
    assert plugin.call("alloc_like_input", b"a" * 100_000) == bytes(100_000)
    with pytest.raises(CallError, match=r"failed to allocate extism memory.*memory\.max_pages"):
        plugin.call("alloc_like_input", b"b" * 400_000)  # the input alone needs 3 more pages
    with pytest.raises(CallError, match=r"^oom: .*memory\.max_pages \(4 pages\)"):
        plugin.call("alloc_like_input", b"c" * 200_000)  # input fits; the allocation needs 3 more
    assert plugin.call("alloc_like_input", b"ok") == b"\0\0"


def test_dropped_plugins_are_freed_without_the_cycle_collector() -> None:
    import gc
    import weakref

    gc.disable()
    try:
        refs = []
        for manifest in ({"wasm": [{"path": str(wasm("count_vowels"))}]},
                         {"wasm": [{"path": str(wasm("count_vowels"))}], "timeout_ms": 60_000}):
            plugin = Plugin(manifest)
            plugin.call("count_vowels", "abc")
            plugin.cancel_handle()
            refs.append(weakref.ref(plugin))
            del plugin
        failing = Plugin(wasm("errors").read_bytes())
        with pytest.raises(CallError):
            failing.call("fail_with_message", "x")
        refs.append(weakref.ref(failing))
        del failing
        assert [r() for r in refs] == [None, None, None]
    finally:
        gc.enable()


def test_many_plugins_created_and_dropped() -> None:
    import gc
    import weakref

    compiled = CompiledPlugin(wasm("count_vowels").read_bytes())
    stores: list[weakref.ref[object]] = []
    for _ in range(3000):  # leaked stores would exhaust memory mappings long before this
        plugin = Plugin(compiled)
        assert json.loads(plugin.call("count_vowels", "a"))["count"] == 1
        stores.append(weakref.ref(plugin._store))
    del plugin
    gc.collect()
    assert sum(ref() is not None for ref in stores) == 0  # every store was freed


def test_exported_functions_lists_what_a_call_can_run() -> None:
    compiled = CompiledPlugin(b"""(module
        (memory (export "memory") 1)
        (global (export "g") i32 (i32.const 0))
        (func (export "run") (result i32) i32.const 0)
        (func (export "go"))
        (func (export "add") (param i32) (result i32) local.get 0))""")
    assert compiled.exported_functions() == ["go", "run"]  # not the memory, global or `add`
    with pytest.raises(CallError, match=r"the plug-in exports: go, run"):
        Plugin(compiled).call("missing", b"")
