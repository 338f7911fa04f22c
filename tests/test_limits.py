"""Limits: fuel, output size, tables, and what a limit's Error says (ABI.md section 7)."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable

import pytest

from wasmplug import CallError, CallTimeout, CompiledPlugin, Error, ManifestError, Plugin

from .conftest import runaway, wasm

pytestmark = pytest.mark.usefixtures("call_path")

LOOP = wasm("wat/loop")


@runaway()
def test_fuel_stops_a_loop_and_the_tank_refills_every_call() -> None:
    plugin = Plugin(LOOP.read_bytes(), fuel_limit=100_000)
    for _ in range(3):
        with pytest.raises(CallError, match=r"^plugin ran out of fuel \(fuel_limit = 100000 ") as info:
            plugin.call("forever", b"")
        assert (info.value.limit, info.value.limit_value) == ("fuel_limit", 100_000)
        assert plugin.fuel_consumed == 100_000
        assert plugin.call("ok", b"") == b""  # a full tank again
        assert 0 < plugin.fuel_consumed < 100_000


def test_fuel_limit_one_fails_every_call() -> None:
    # ABI.md 12.17: 10 001 consecutive calls each fail with a message containing "fuel".
    plugin = Plugin(wasm("count_vowels").read_bytes(), fuel_limit=1)
    for _ in range(10_001):
        with pytest.raises(CallError, match="fuel"):
            plugin.call("count_vowels", b"abc")
    assert plugin.fuel_consumed > 0


def test_fuel_is_enough_for_real_work() -> None:
    plugin = Plugin(wasm("count_vowels").read_bytes(), fuel_limit=10_000_000)
    assert json.loads(plugin.call("count_vowels", "hello world"))["count"] == 3


@runaway()
def test_fuel_limit_with_a_compiled_plugin() -> None:
    compiled = CompiledPlugin(LOOP.read_bytes(), fuel_limit=1_000)
    tight = Plugin(compiled)
    generous = Plugin(compiled, fuel_limit=50_000)
    with pytest.raises(CallError, match=r"fuel_limit = 1000 "):
        tight.call("forever", b"")
    with pytest.raises(CallError, match=r"fuel_limit = 50000 "):
        generous.call("forever", b"")
    with pytest.raises(Error, match="fuel_limit needs fuel metering compiled in"):
        Plugin(CompiledPlugin(LOOP.read_bytes()), fuel_limit=5)
    with pytest.raises(Error, match="fuel_limit must be a positive number"):
        Plugin(LOOP.read_bytes(), fuel_limit=0)


def test_output_larger_than_max_output_bytes_is_refused() -> None:
    manifest = {"wasm": [{"path": str(wasm("echo"))}], "memory": {"max_output_bytes": 1000}}
    plugin = Plugin(manifest)
    assert plugin.call("echo", b"x" * 1000) == b"x" * 1000
    with pytest.raises(CallError, match=r"output \(1001 bytes\) exceeds memory\.max_output_bytes "
                                        r"\(1000 bytes\)") as info:
        plugin.call("echo", b"x" * 1001)
    assert (info.value.limit, info.value.limit_value) == ("memory.max_output_bytes", 1000)
    assert plugin.call("echo", b"fine") == b"fine"
    with pytest.raises(ManifestError, match=r"memory.max_output_bytes"):
        Plugin({"wasm": [{"path": str(wasm("echo"))}], "memory": {"max_output_bytes": -1}})


def test_limit_errors_name_the_limit() -> None:
    vars_full = Plugin({"wasm": [{"path": str(wasm("host_env"))}], "memory": {"max_var_bytes": 60}})
    with pytest.raises(CallError) as info:
        vars_full.call("var_set", "k=" + "v" * 100)
    assert (info.value.limit, info.value.limit_value) == ("memory.max_var_bytes", 60)
    oom = Plugin({"wasm": [{"path": str(wasm("wat/kernel_alloc"))}], "memory": {"max_pages": 2}})
    with pytest.raises(CallError, match=r"^oom: ") as info:
        oom.call("alloc_like_input", b"z" * 100_000)
    assert (info.value.limit, info.value.limit_value) == ("memory.max_pages", 2)
    plain = Plugin(wasm("wat/trap").read_bytes())
    with pytest.raises(CallError) as info:
        plain.call("trap", b"")
    assert info.value.limit is None and info.value.limit_value is None


TRAPPING_INIT = """
(module
  (global $calls (mut i32) (i32.const 0))
  (func (export "_initialize") unreachable)
  (func (export "ok") (result i32) (i32.const 0)))
"""

TRAPPING_START = """
(module
  (func $start unreachable)
  (start $start)
  (func (export "ok") (result i32) (i32.const 0)))
"""


@pytest.mark.parametrize(("source", "pattern"), [
    (TRAPPING_INIT, r"(?s)^plug-in initialisation \(_initialize\) failed: .*unreachable"),
    (TRAPPING_START, r"(?s)^plug-in initialisation \(its start function\) trapped: .*unreachable"),
])
def test_trap_during_initialisation_fails_each_call_cleanly(source: str, pattern: str) -> None:
    plugin = Plugin(source)
    for _ in range(3):  # each call starts again from a fresh instance
        with pytest.raises(CallError, match=pattern) as info:
            plugin.call("ok", b"")
        assert info.value.code == 134


TABLE_BOMB = """
(module
  (import "extism:host/env" "alloc" (func $alloc (param i64) (result i64)))
  (import "extism:host/env" "store_u64" (func $store_u64 (param i64 i64)))
  (import "extism:host/env" "output_set" (func $output_set (param i64 i64)))
  (table $t 1 funcref)
  (func (export "grow") (result i32)
    (local $p i64)
    (local.set $p (call $alloc (i64.const 8)))
    (call $store_u64 (local.get $p)
      (i64.extend_i32_s (table.grow $t (ref.null func) (i32.const 2000000))))
    (call $output_set (local.get $p) (i64.const 8))
    (i32.const 0)))
"""


def test_tables_cannot_grow_past_the_store_limit() -> None:
    out = Plugin(TABLE_BOMB).call("grow", b"")
    assert int.from_bytes(out, "little", signed=True) == -1


# ------------------------------------------------------- memory.max_pages (ABI.md 7.1)

BUDGET_VOWELS = wasm("wat/budget_vowels")
OOM = "oom"
TABLE_INPUTS = (10, 64 * 1024, 128 * 1024, 400_000)
# ABI.md 7.1's measured table: max_pages -> outcome for each input size.
REFERENCE_TABLE = {
    1: (OOM, OOM, OOM, OOM), 8: (OOM, OOM, OOM, OOM), 16: (OOM, OOM, OOM, OOM),
    17: ("ok", "ok", "ok", OOM), 18: ("ok", "ok", "ok", OOM), 20: ("ok", "ok", "ok", "ok"),
}


def _outcome(max_pages: int, size: int) -> str:
    plugin = Plugin({"wasm": [{"path": str(BUDGET_VOWELS)}], "memory": {"max_pages": max_pages}})
    data = (b"aeioux" * (size // 6 + 1))[:size]
    try:
        out = plugin.call("count_vowels", data)
    except CallError as exc:
        assert str(exc).startswith("oom: "), exc
        assert (exc.limit, exc.limit_value) == ("memory.max_pages", max_pages)
        return OOM
    assert int.from_bytes(out, "little") == sum(data.count(v) for v in b"aeiou")
    return "ok"


@pytest.mark.parametrize("max_pages", sorted(REFERENCE_TABLE))
def test_max_pages_reproduces_the_reference_table(max_pages: int) -> None:
    assert tuple(_outcome(max_pages, n) for n in TABLE_INPUTS) == REFERENCE_TABLE[max_pages]


def test_initial_sizes_that_do_not_fit_fail_every_call_naming_the_pages() -> None:
    plugin = Plugin({"wasm": [{"path": str(BUDGET_VOWELS)}], "memory": {"max_pages": 16}})
    for export in ("count_vowels", "ok", "ok"):
        with pytest.raises(CallError, match=r"^oom: the plug-in's memories need 17 pages when "
                                            r"instantiated; memory\.max_pages allows 16$") as info:
            plugin.call(export, b"x")
        assert (info.value.limit, info.value.limit_value, info.value.code) == (
            "memory.max_pages", 16, 134)


def test_growth_accumulates_across_calls_and_a_refusal_keeps_the_plugin_usable() -> None:
    plugin = Plugin({"wasm": [{"path": str(wasm("wat/memory_grow"))}], "memory": {"max_pages": 3}})
    grow = [(n).to_bytes(8, "little") for n in range(6)]
    assert int.from_bytes(plugin.call("grow", grow[2]), "little") == 3
    with pytest.raises(CallError, match=r"^oom: .*memory\.max_pages \(3 pages\)") as info:
        plugin.call("grow", grow[2])  # 1 page left of the budget: the call traps, no -1
    assert info.value.limit == "memory.max_pages"
    assert int.from_bytes(plugin.call("grow", grow[1]), "little") == 4
    with pytest.raises(CallError, match=r"^oom: "):
        plugin.call("grow", grow[1])
    assert int.from_bytes(plugin.call("fill", b""), "little") == 4  # still usable, memory kept


def test_kernel_and_guest_growth_share_one_budget() -> None:
    plugin = Plugin({"wasm": [{"path": str(wasm("wat/memory_grow"))}], "memory": {"max_pages": 3}})
    assert int.from_bytes(plugin.call("grow", (3).to_bytes(8, "little")), "little") == 4
    # The guest took the whole budget: the kernel cannot grow for a large input.
    with pytest.raises(CallError, match=r"^oom: failed to allocate extism memory") as info:
        plugin.call("grow", (0).to_bytes(8, "little") + bytes(100_000))
    assert info.value.limit == "memory.max_pages"
    assert int.from_bytes(plugin.call("grow", (0).to_bytes(8, "little")), "little") == 4


def test_growth_beyond_a_declared_maximum_is_oom_under_max_pages() -> None:
    source = """
    (module
      (memory 1 2)
      (func (export "grow") (result i32) (drop (memory.grow (i32.const 2))) (i32.const 0)))
    """
    with pytest.raises(CallError, match=r"^oom: "):
        Plugin({"wasm": [{"data": source.encode()}], "memory": {"max_pages": 10}}).call("grow", b"")
    assert Plugin(source).call("grow", b"") == b""  # no budget: memory.grow returns -1 as usual


def test_memory64_growth_is_budgeted() -> None:
    source = """
    (module
      (memory i64 1)
      (func (export "grow") (result i32)
        (i32.wrap_i64 (i64.sub (memory.grow (i64.const 4)) (i64.const 1)))))
    """
    plugin = Plugin({"wasm": [{"data": source.encode()}], "memory": {"max_pages": 5}})
    assert plugin.call("grow", b"") == b""  # grew from 1 page: rc 0
    with pytest.raises(CallError, match=r"^oom: ") as info:
        plugin.call("grow", b"")  # 1 page of the budget left
    assert info.value.limit == "memory.max_pages"


def test_rewritten_modules_keep_function_indices_tables_and_names() -> None:
    # call, call_indirect through an element segment, ref.func in a global,
    # an exported function and a start function, all after the rewrite.
    source = """
    (module
      (import "extism:host/env" "alloc" (func $alloc (param i64) (result i64)))
      (import "extism:host/env" "store_u64" (func $store_u64 (param i64 i64)))
      (import "extism:host/env" "output_set" (func $output_set (param i64 i64)))
      (type $v_i (func (result i32)))
      (memory 1)
      (table 2 funcref)
      (elem (i32.const 0) $seven $grow)
      (global $g (mut i32) (i32.const 0))
      (global $f funcref (ref.func $seven))
      (func $seven (result i32) (i32.const 7))
      (func $grow (result i32) (memory.grow (i32.const 1)))
      (func $start (global.set $g (call $seven)))
      (start $start)
      (func (export "run") (result i32)
        (local $p i64)
        (local.set $p (call $alloc (i64.const 8)))
        (call $store_u64 (local.get $p)
          (i64.extend_i32_u (i32.add (i32.add (global.get $g)
            (call_indirect (type $v_i) (i32.const 0)))
            (i32.mul (i32.const 100) (call_indirect (type $v_i) (i32.const 1))))))
        (call $output_set (local.get $p) (i64.const 8))
        (i32.const 0)))
    """
    budgeted = Plugin({"wasm": [{"data": source.encode()}], "memory": {"max_pages": 1}})
    assert int.from_bytes(budgeted.call("run", b""), "little") == 7 + 7 + 100 * 1
    with pytest.raises(CallError, match=r"^oom: "):
        budgeted.call("run", b"")  # the second page is over the budget


def test_rewriting_keeps_simd_bulk_memory_and_multi_memory_code_intact() -> None:
    # Instructions with immediates of every shape around the rewritten grows.
    source = """
    (module
      (import "extism:host/env" "alloc" (func $alloc (param i64) (result i64)))
      (import "extism:host/env" "store_u64" (func $store_u64 (param i64 i64)))
      (import "extism:host/env" "output_set" (func $output_set (param i64 i64)))
      (memory $a 1)
      (memory $b 1)
      (data $d "\\07")
      (func $pick (param $i i32) (result i32)
        (block $z (block $y (block $x
          (br_table $x $y $z (local.get $i)))
          (return (i32.const 10)))
          (return (i32.const 20)))
        (i32.const 30))
      (func (export "run") (result i32)
        (local $p i64) (local $v v128)
        (local.set $v (v128.const i32x4 1 2 3 4))
        (local.set $v (i32x4.add (local.get $v)
          (i8x16.shuffle 0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 (local.get $v) (local.get $v))))
        (drop (memory.grow $b (i32.const 1)))
        (memory.init $b $d (i32.const 65536) (i32.const 0) (i32.const 1))
        (memory.copy $a $b (i32.const 0) (i32.const 65536) (i32.const 1))
        (v128.store $a offset=16 (i32.const 0) (local.get $v))
        (local.set $p (call $alloc (i64.const 8)))
        (call $store_u64 (local.get $p) (i64.extend_i32_u
          (i32.add (i32.add (i32.load8_u $a (i32.const 0)) (i32x4.extract_lane 3 (local.get $v)))
                   (i32.add (select (result i32) (call $pick (i32.const 1)) (i32.const 0)
                                    (i32.const 1))
                            (i32.mul (i32.const 100) (memory.size $b))))))
        (call $output_set (local.get $p) (i64.const 8))
        (i32.const 0)))
    """
    expected = 7 + 8 + 20 + 100 * 2
    plain = Plugin(source)
    assert int.from_bytes(plain.call("run", b""), "little") == expected
    budgeted = Plugin({"wasm": [{"data": source.encode()}], "memory": {"max_pages": 3}})
    assert int.from_bytes(budgeted.call("run", b""), "little") == expected
    assert int.from_bytes(budgeted.call("run", b""), "little") == expected + 100
    assert int.from_bytes(budgeted.call("run", b""), "little") == expected + 200
    with pytest.raises(CallError, match=r"^oom: "):
        budgeted.call("run", b"")  # the budget of 3 pages is spent


@runaway()
def test_a_timeout_that_fires_before_the_wasm_starts_still_stops_the_call(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The ticker may fire before the calling thread reaches the Wasm (a descheduled
    thread on a busy machine): the call must still end as a timeout, not loop forever."""
    from wasmplug._engine import EngineSettings, runtime

    ticker = runtime(EngineSettings()).ticker
    real = ticker.schedule

    def fire_at_once(seconds: float, fire: Callable[[], object]) -> int:
        fire()  # as if the thread were descheduled for the whole timeout right here
        return real(3600, lambda: None)
    monkeypatch.setattr(ticker, "schedule", fire_at_once)
    plugin = Plugin({"wasm": [{"path": str(LOOP)}], "timeout_ms": 60_000})
    with pytest.raises(CallTimeout):
        plugin.call("forever", b"")
    monkeypatch.undo()
    with pytest.raises(CallTimeout):  # and the plug-in's next call has its own timer
        Plugin({"wasm": [{"path": str(LOOP)}], "timeout_ms": 50}).call("forever", b"")


def test_background_threads_are_named_daemons() -> None:
    """The epoch ticker and the SIGINT watcher start without waiting (wasmplug._daemon)."""
    from wasmplug import _daemon

    running, release = threading.Event(), threading.Event()

    def target() -> None:
        running.set()
        release.wait(5)

    name = f"wasmplug-test-daemon-{id(running)}"
    _daemon.start(target, name)
    assert running.wait(5)
    (thread,) = [t for t in threading.enumerate() if t.name == name]
    assert thread.daemon
    release.set()


@runaway()
def test_calls_with_a_timeout_share_one_ticker_entry(monkeypatch: pytest.MonkeyPatch) -> None:
    """A plug-in called again and again arms the engine ticker once per timeout period,
    not once per call (issue 23: a schedule and a cancel per call were a fifth of a short
    call), and its timeout still stops a call that runs too long after many quick ones."""
    import time

    from wasmplug._engine import EngineSettings, runtime

    ticker = runtime(EngineSettings()).ticker
    real = ticker.schedule
    scheduled: list[float] = []

    def counting(seconds: float, fire: Callable[[], object]) -> int:
        scheduled.append(seconds)
        return real(seconds, fire)
    monkeypatch.setattr(ticker, "schedule", counting)
    plugin = Plugin({"wasm": [{"path": str(LOOP)}], "timeout_ms": 60_000})
    for _ in range(2_000):
        plugin.call("ok", b"")
    assert len(scheduled) == 1

    # A short timeout: quick calls go on past several of its periods (the entry fires,
    # finds a later deadline and re-arms, or finds no call and lets the next one arm).
    short = Plugin({"wasm": [{"path": str(LOOP)}], "timeout_ms": 100})
    scheduled.clear()
    calls = 0
    started = time.monotonic()
    while time.monotonic() - started < 0.5:
        short.call("ok", b"")
        calls += 1
    assert 1 <= len(scheduled) < calls / 10
    began = time.monotonic()
    with pytest.raises(CallTimeout, match="timeout_ms"):
        short.call("forever", b"")
    assert time.monotonic() - began < 30  # stopped by its timer (bounded by @runaway too)
    short.call("ok", b"")  # usable afterwards, with its timer armed again
    with pytest.raises(CallTimeout):
        short.call("forever", b"")


@runaway(60)
def test_a_timer_is_never_lost_between_a_call_starting_and_the_ticker_firing() -> None:
    """Stress for the hand-over in Plugin._arm_timer / _timer_fired: with a 2 ms timeout
    the ticker fires while calls start all the time, on two threads. Every `forever`
    call must still end as a timeout (a lost timer would hang it: @runaway)."""
    import contextlib
    import time

    failures: list[BaseException] = []
    timeouts = [0, 0]

    def work(i: int) -> None:
        plugin = Plugin({"wasm": [{"path": str(LOOP)}], "timeout_ms": 2})
        started = time.monotonic()
        try:
            while time.monotonic() - started < 3:
                for _ in range(i * 7 + 5):
                    # (a thread descheduled for 2 ms on a busy machine times out too)
                    with contextlib.suppress(CallTimeout):
                        plugin.call("ok", b"")
                try:
                    plugin.call("forever", b"")
                except CallTimeout:
                    timeouts[i] += 1
        except BaseException as exc:  # reported below
            failures.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures, failures
    assert min(timeouts) >= 20, timeouts
