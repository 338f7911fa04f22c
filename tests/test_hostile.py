"""The hostile plug-in corpus (plugins/hostile/, see its README): every attack
with its exact outcome.

For each attack the test checks the outcome (the output, or the error type and
message), that the attacked plug-in is still usable where that is promised
(every hostile module exports `ok`, returning 0), that the call ended within
its limit plus a margin, and (autouse fixture) that a bystander plug-in
created once for the whole module still answers correctly afterwards.

Every call that could hang runs in a daemon thread joined with a deadline
(`bounded`), so a regression fails the test instead of hanging the run.
Every test runs through both call paths (`call_path`).
"""

from __future__ import annotations

import dataclasses
import gzip
import json
import logging
import re
import struct
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any, ClassVar

import pytest

import wasmplug
from wasmplug import (
    CallError,
    CallTimeout,
    CompiledPlugin,
    CurrentPlugin,
    Error,
    Function,
    LoadError,
    Plugin,
    Val,
    ValType,
)

from .conftest import ROOT, runaway, wasm
from .http_server import serve_handler

pytestmark = [pytest.mark.usefixtures("call_path"), runaway(60)]

HOSTILE = ROOT / "plugins" / "hostile"
WASI_FILES = ROOT / "plugins" / "c" / "wasi_files.wasm"

MARGIN = 1.5          # seconds allowed beyond a call's own limit
DEFAULT_TIMEOUT_MS = 3000
DEFAULT_MAX_PAGES = 64
U64_MAX = 2**64 - 1


# ----------------------------------------------------------------- helpers


def hostile(name: str) -> Path:
    return HOSTILE / f"{name}.wasm"


def manifest(name: str, *, memory: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    """A manifest bounding every bomb: a timeout and a page budget unless overridden."""
    mem = {"max_pages": DEFAULT_MAX_PAGES, **(memory or {})}
    return {"wasm": [{"path": str(hostile(name))}], "timeout_ms": DEFAULT_TIMEOUT_MS,
            "memory": mem, **extra}


def plugin(name: str, *, functions: list[Function] | None = None, memory: dict[str, Any] | None = None,
           **extra: Any) -> Plugin:
    return Plugin(manifest(name, memory=memory, **extra), functions=functions or [])


def limit_of(p: Plugin) -> float:
    """Seconds a call on `p` may take: its timeout plus the margin."""
    timeout_ms = p._compiled.manifest.timeout_ms
    return (timeout_ms if timeout_ms is not None else DEFAULT_TIMEOUT_MS) / 1000 + MARGIN


def bounded(seconds: float, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Run fn in a daemon thread; fail if it has not finished after `seconds`."""
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = fn(*args, **kwargs)
        except BaseException as exc:  # re-raised in the test's thread
            box["error"] = exc

    start = time.monotonic()
    worker = threading.Thread(target=target, daemon=True, name="hostile-call")
    worker.start()
    worker.join(seconds)
    elapsed = time.monotonic() - start
    assert not worker.is_alive(), f"the call is still running after {elapsed:.1f} s (limit {seconds} s)"
    assert elapsed < seconds
    if "error" in box:
        raise box["error"]
    return box["value"]


def call(p: Plugin, name: str, data: bytes | str = b"") -> bytes:
    """p.call, bounded by the plug-in's timeout plus the margin."""
    result: bytes = bounded(limit_of(p), p.call, name, data)
    return result


def assert_usable(p: Plugin) -> None:
    assert call(p, "ok") == b""


def u64s(data: bytes) -> list[int]:
    assert len(data) % 8 == 0, data
    return [v for (v,) in struct.iter_unpack("<Q", data)]


def pack(*values: int) -> bytes:
    return b"".join(v.to_bytes(8, "little") for v in values)


@pytest.fixture
def plugin_logs_disabled(caplog: pytest.LogCaptureFixture) -> None:
    """wasmplug.plugin logs nothing: plug-in messages are dropped unread (ABI.md 2.6)."""
    caplog.set_level(logging.CRITICAL, logger="wasmplug.plugin")


@contextmanager
def elapsed_at_most(seconds: float) -> Iterator[None]:
    start = time.monotonic()
    yield
    assert time.monotonic() - start < seconds


# ----------------------------------------------------------------- bystander


@pytest.fixture(scope="module")
def bystander() -> Plugin:
    """Another plug-in in the same process, created before any attack."""
    return Plugin({"wasm": [{"path": str(wasm("count_vowels"))}], "timeout_ms": 5000}, functions=[])


@pytest.fixture(autouse=True)
def bystander_unaffected(bystander: Plugin) -> Iterator[None]:
    yield
    out = bounded(5, bystander.call, "count_vowels", "hello world")
    assert json.loads(out)["count"] == 3


# ----------------------------------------------------------------- time


def test_endless_loop_times_out_and_plugin_survives() -> None:
    p = plugin("endless_loop", timeout_ms=300)
    for _ in range(3):
        start = time.monotonic()
        with pytest.raises(CallTimeout, match=r"^timeout\b") as info:
            call(p, "run")
        assert 0.25 < time.monotonic() - start < 0.3 + MARGIN
        assert info.value.code == 134
        assert info.value.limit == "timeout_ms"
        assert info.value.limit_value == 300
        assert_usable(p)


def test_log_flood_still_times_out(caplog: pytest.LogCaptureFixture) -> None:
    p = plugin("log_flood", timeout_ms=300)
    with caplog.at_level(logging.ERROR, logger="wasmplug.plugin"):
        start = time.monotonic()
        with pytest.raises(CallTimeout, match=r"^timeout\b"):
            call(p, "run")
        assert time.monotonic() - start < 0.3 + MARGIN
    floods = [r for r in caplog.records if r.name == "wasmplug.plugin" and r.getMessage() == "flood"]
    assert len(floods) > 10
    assert_usable(p)


def test_deep_recursion_exhausts_the_wasm_stack_not_the_host() -> None:
    p = plugin("deep_recursion")
    for export in ("run", "mutual", "run"):
        with pytest.raises(CallError, match="call stack exhausted") as info:
            call(p, export)
        assert info.value.code == 134
        assert_usable(p)


def fuel_manifest() -> dict[str, Any]:
    # timeout only: fuel is the bound under test (max_pages: see the next tests)
    return {"wasm": [{"path": str(hostile("fuel_burner"))}], "timeout_ms": DEFAULT_TIMEOUT_MS}


def test_fuel_exhaustion_and_a_full_tank_on_the_next_call() -> None:
    p = Plugin(fuel_manifest(), functions=[], fuel_limit=1_000_000)
    for _ in range(2):
        with pytest.raises(CallError, match=r"^plugin ran out of fuel") as info:
            call(p, "forever")
        assert info.value.code == 134
        assert info.value.limit == "fuel_limit"
        assert info.value.limit_value == 1_000_000
        # about half the tank, on every call in a row: the tank is refilled
        for _ in range(3):
            assert u64s(call(p, "spin", pack(50_000))) == [50_000]
        assert_usable(p)
    with pytest.raises(CallError, match=r"^plugin ran out of fuel"):
        call(p, "spin", pack(10_000_000))


def test_fuel_limit_on_a_compiled_plugin() -> None:
    compiled = CompiledPlugin(fuel_manifest(), functions=[], fuel_limit=200_000)
    a, b = Plugin(compiled), Plugin(compiled)
    with pytest.raises(CallError, match=r"^plugin ran out of fuel"):
        call(a, "forever")
    assert u64s(call(b, "spin", pack(1_000))) == [1_000]
    assert_usable(a)


def test_fuel_limit_with_max_pages() -> None:
    # Every bomb is bounded by both; creating the plug-in must not burn the
    # (still empty) tank.
    p = Plugin(manifest("fuel_burner", memory={"max_pages": 4}), functions=[],
               fuel_limit=1_000_000)
    with pytest.raises(CallError, match=r"^plugin ran out of fuel"):
        call(p, "forever")
    assert u64s(call(p, "spin", pack(50_000))) == [50_000]
    compiled = CompiledPlugin(manifest("fuel_burner", memory={"max_pages": 4}), functions=[],
                              fuel_limit=1_000_000)
    assert u64s(call(Plugin(compiled), "spin", pack(10))) == [10]


# ----------------------------------------------------------------- memory


def assert_oom(p: Plugin, export: str, data: bytes = b"", detail: str = "") -> None:
    with pytest.raises(CallError, match=r"^oom: " + detail) as info:
        call(p, export, data)
    assert (info.value.limit, info.value.code) == ("memory.max_pages", 134)
    assert info.value.limit_value == p._compiled.manifest.memory.max_pages


def test_memory_grow_bomb_stops_at_max_pages() -> None:
    p = plugin("memory_grow_bomb", memory={"max_pages": 8})
    assert_oom(p, "run")  # the 9th memory.grow traps instead of returning -1
    assert_oom(p, "huge")
    assert_oom(p, "max")
    assert_oom(p, "run")  # nothing more to take on a second try
    assert_usable(p)
    assert p._path.export(p._store, p._instance, "memory").size(p._store) == 1 + 8


def test_kernel_alloc_bomb_is_oom_at_max_pages() -> None:
    p = plugin("kernel_alloc_bomb", memory={"max_pages": 16})
    for _ in range(2):
        with pytest.raises(CallError, match=r"^oom: .*memory\.max_pages \(16 pages\)") as info:
            call(p, "run")
        assert info.value.code == 134
        assert info.value.limit == "memory.max_pages"
        assert info.value.limit_value == 16
    assert u64s(call(p, "huge")) == [0, 0, 0]
    assert_usable(p)
    # the memory it did get is reused: a large input still fits
    assert call(p, "ok", b"x" * 500_000) == b""


def test_huge_output_within_the_page_budget_is_returned() -> None:
    p = plugin("huge_output", memory={"max_pages": 200})
    assert call(p, "run", pack(5_000_000)) == bytes(5_000_000)
    assert call(p, "run", pack(2**40)) == b""  # the kernel cannot allocate it: alloc gives 0
    assert call(p, "garbage") == b""
    assert_usable(p)


def test_huge_output_is_refused_past_max_output_bytes() -> None:
    p = plugin("huge_output", memory={"max_pages": 200, "max_output_bytes": 1_000_000})
    assert call(p, "run", pack(1_000_000)) == bytes(1_000_000)
    with pytest.raises(CallError, match=r"memory\.max_output_bytes") as info:
        call(p, "run", pack(1_000_001))
    assert info.value.limit == "memory.max_output_bytes"
    assert info.value.limit_value == 1_000_000
    with pytest.raises(CallError, match=r"memory\.max_output_bytes"):
        call(p, "run", pack(5_000_000))
    with pytest.raises(CallError, match=r"^oom: "):  # max_pages stops the allocation first
        call(p, "run", pack(50_000_000))
    assert_usable(p)


def test_table_grow_bomb_is_capped_at_a_million_elements() -> None:
    p = plugin("table_grow_bomb")
    assert u64s(call(p, "huge", pack(0xFFFFFFFF))) == [U64_MAX]
    assert u64s(call(p, "huge", pack(1 << 28))) == [U64_MAX]
    assert u64s(call(p, "huge", pack(1_000_001))) == [U64_MAX]
    assert u64s(call(p, "loop")) == [1_000_000]
    assert u64s(call(p, "huge", pack(1))) == [U64_MAX]
    assert_usable(p)


def test_many_memories_are_refused_before_compiling() -> None:
    for _ in range(2):
        with pytest.raises(LoadError, match=r"the plug-in's modules declare 100 memories; at most "
                                            r"16 are allowed \(raise LoadLimits\.max_memories"):
            plugin("many_memories")


@contextmanager
def load_limits(**changes: Any) -> Iterator[None]:
    previous = wasmplug.load_limits()
    wasmplug.set_load_limits(dataclasses.replace(previous, **changes))
    try:
        yield
    finally:
        wasmplug.set_load_limits(previous)


def test_twenty_memories_are_refused_by_default() -> None:
    with pytest.raises(LoadError, match=r"declare 20 memories; at most 16 are allowed"):
        plugin("twenty_memories", memory={"max_pages": 100})


def test_twenty_memories_share_one_budget() -> None:
    with load_limits(max_memories=20):
        p = plugin("twenty_memories", memory={"max_pages": 100})
        assert_oom(p, "grow_each", pack(100))  # the first memory took all 100 pages
        assert_usable(p)
        p = plugin("twenty_memories", memory={"max_pages": 100})
    assert u64s(call(p, "grow_each", pack(4))) == [100]
    assert u64s(call(p, "grow_each", pack(1))) == [120]  # exactly the budget
    assert_oom(p, "grow_each", pack(1))
    assert_usable(p)


def test_second_memory_shares_the_budget_of_the_first() -> None:
    p = plugin("memory_split", memory={"max_pages": 4})
    for export in ("grow_small", "ok"):
        assert_oom(p, export, pack(1), r"the plug-in's memories need 65 pages when instantiated; "
                                      r"memory\.max_pages allows 4$")
    p = plugin("memory_split", memory={"max_pages": 65})
    assert_oom(p, "grow_small", pack(66))
    assert u64s(call(p, "grow_small", pack(65))) == [1]
    assert_oom(p, "grow_small", pack(1))
    assert_usable(p)


def test_hidden_memory_counts_against_the_budget() -> None:
    p = plugin("hidden_memory", memory={"max_pages": 4})
    assert_oom(p, "ok", b"", r"the plug-in's memories need 32 pages when instantiated")
    p = plugin("hidden_memory", memory={"max_pages": 32})
    assert u64s(call(p, "grow", pack(32))) == [32]
    assert_oom(p, "grow", pack(1))
    assert_usable(p)


def test_huge_initial_memory_must_fit_in_the_budget() -> None:
    p = plugin("huge_initial_memory", memory={"max_pages": 16})
    for export in ("grow_small", "ok", "ok"):
        assert_oom(p, export, pack(16_384), r"the plug-in's memories need 16386 pages when "
                                            r"instantiated; memory\.max_pages allows 16$")
    assert p._instance is None  # nothing was instantiated, no memory reserved
    p = plugin("huge_initial_memory", memory={"max_pages": 16_386})
    assert u64s(call(p, "grow_small", pack(8))) == [9, 9]
    assert_oom(p, "grow_small", pack(9000))
    assert_usable(p)


# ----------------------------------------------------------------- vars


def test_var_bomb_fills_the_store_to_its_limit() -> None:
    p = plugin("var_bomb", memory={"max_var_bytes": 100_000})
    with pytest.raises(CallError, match=re.escape(
            "Variable store is full (limit memory.max_var_bytes = 100000 bytes)")) as info:
        call(p, "run")
    assert info.value.limit == "memory.max_var_bytes"
    assert info.value.limit_value == 100_000
    # values of 1, 2, ... 13 KiB fit (48 + 9 + 1024 i bytes each: 93 925 in all); 14 KiB does not
    assert sorted(len(v) for v in p.vars.values()) == [1024 * i for i in range(1, 14)]
    assert sum(48 + len(k.encode()) + len(v) for k, v in p.vars.items()) <= 100_000
    assert_usable(p)


def test_var_bomb_on_one_key() -> None:
    p = plugin("var_bomb", memory={"max_var_bytes": 100_000})
    with pytest.raises(CallError, match=r"^Variable store is full \(limit memory\.max_var_bytes"):
        call(p, "same_key")
    # the old value is counted too (ABI.md 2.4): 49 KiB replaces 48 KiB, 50 KiB cannot
    assert {k: len(v) for k, v in p.vars.items()} == {"k" + "\0" * 8: 49 * 1024}
    assert_usable(p)


def test_var_hoarding_in_kernel_memory_is_oom() -> None:
    p = plugin("var_bomb", memory={"max_pages": 16})
    with pytest.raises(CallError, match=r"^oom: .*memory\.max_pages \(16 pages\)") as info:
        call(p, "hoard", b"v" * 100_000)
    assert info.value.limit == "memory.max_pages"
    assert_usable(p)


# ----------------------------------------------------------------- kernel ABI abuse

# Offsets no kernel load or store may reach (the root record below 57, the end
# of the 1-page kernel memory, and 64-bit values that alias low addresses when
# truncated to 32 bits).
OUT_OF_BOUNDS = [2**32 + 77, 0, 1, 8, 9, 17, 25, 33, 41, 49, 56, 65_536, 65_536 + 7,
                 2**32, 2**32 + 9, 2**32 + 65_536, 10**12, 2**63, U64_MAX - 7, U64_MAX]


def test_out_of_bounds_kernel_loads_return_zero() -> None:
    p = plugin("kernel_oob")
    offsets = [*OUT_OF_BOUNDS, 63]
    values = u64s(call(p, "load", pack(*offsets)))
    u64_loads, u8_loads = values[0::2], values[1::2]
    assert u8_loads == [0] * len(offsets)
    # load_u64(63) is in bounds (ABI.md 3.6: the access ends at 70 >= 64): it
    # reads the first block header at 65, the input's (status 1, size 8k).
    input_size = 8 * len(offsets)
    assert u64_loads == [0] * len(OUT_OF_BOUNDS) + [(1 << 16) | (input_size << 48)]
    assert u64s(call(p, "edge")) == [U64_MAX, 0, 255, 0, 0, 0]
    assert_usable(p)


def test_out_of_bounds_kernel_stores_are_ignored() -> None:
    p = plugin("kernel_oob")
    k = len(OUT_OF_BOUNDS)
    # capacity, input offset / length, length of the input block, its first
    # word (the first offset, not overwritten through an alias), next alloc
    assert u64s(call(p, "store", pack(*OUT_OF_BOUNDS))) == [
        65_472, 77, 8 * k, 8 * k, 2**32 + 77, 77 + 8 * k + 12]
    assert_usable(p)
    # the next call (empty input) sees a healthy kernel
    assert u64s(call(p, "store", b"")) == [65_472, 0, 0, 0, 0, 77]


def test_frees_of_bogus_offsets_are_ignored() -> None:
    p = plugin("kernel_oob")
    bogus = [0, 1, 63, 64, 65, 76, 78, 2**32 + 77, 65_536, 2**63, U64_MAX]
    k = len(bogus)
    a = 77 + 8 * k + 12
    assert u64s(call(p, "free", pack(*bogus))) == [100, 8 * k, a]
    assert_usable(p)


def test_double_free_never_hands_a_block_out_twice() -> None:
    p = plugin("double_free")
    a, b, c, len_b, len_c = u64s(call(p, "run"))
    assert (a, b) == (77, 77)  # reused once...
    assert c == 65 + 65_012 + 12  # ...and the next allocation is a fresh block
    assert (len_b, len_c) == (65_000, 65_000)
    assert call(p, "free_output") == b"hello"
    assert_usable(p)


@pytest.mark.parametrize("export", ["out_of_heap", "max", "wrapped", "interior", "header",
                                    "freed", "cleared"])
def test_bogus_error_offsets_are_ignored(export: str) -> None:
    p = plugin("error_set_bogus")
    assert call(p, export) == b""
    with pytest.raises(CallError, match=r"^Error code: 5$") as info:
        call(p, "cleared_rc")
    assert info.value.code == 5
    with pytest.raises(CallError, match=r"^boom$"):
        call(p, "valid")
    assert_usable(p)


def test_input_and_output_registers_set_to_garbage_are_ignored() -> None:
    p = plugin("input_set_garbage")
    for data in (b"the real input", bytes(range(256)) * 40, b"x"):
        assert call(p, "scramble", data) == data
    assert call(p, "zero_output") == b""
    assert_usable(p)


def test_heap_header_inflated_to_4_gib_is_refused_by_the_kernel() -> None:
    # The forged block would end past the heap: the kernel's walk refuses it,
    # so the handle is invalid (the host's own bounds check is never needed).
    p = plugin("heap_corruption")
    with pytest.raises(CallError, match=re.escape("invalid handle offset for var value: 90")):
        call(p, "inflate_var")
    assert p.vars == {}
    assert call(p, "inflate_output") == b""
    assert call(p, "echo", b"still fine") == b"still fine"
    assert_usable(p)


# (filler, n): the forged header lands on address 9 (bump position) or 17
# (capacity counter), see heap_corruption.wat.
@pytest.mark.parametrize(("filler", "n"), [(65_245, 83), (65_253, 75)], ids=["at-9", "at-17"])
def test_heap_header_wrapping_onto_the_root_record_does_not_break_the_plugin(
        filler: int, n: int) -> None:
    p = plugin("heap_corruption")
    # The forged header is not trusted (a block that would end past the bump
    # position stops the walk), so the allocation is served from fresh space
    # and the call succeeds with no output.
    assert call(p, "wrap_root", pack(filler, n)) == b""
    # The kernel must still work for every later call, with inputs of any size.
    for size in (5, 70_000, 1_000_000, 5):
        assert call(p, "echo", b"e" * size) == b"e" * size, size
    assert_usable(p)


# ----------------------------------------------------------------- text that is not UTF-8


@pytest.mark.parametrize(("export", "reason"), [
    ("error", "'utf-8' codec can't decode byte 0xff in position 0: invalid start byte"),
    ("truncated", "'utf-8' codec can't decode byte 0xc3 in position 2: unexpected end of data"),
    ("surrogate", "'utf-8' codec can't decode byte 0xed in position 0: invalid continuation byte"),
])
def test_error_message_that_is_not_utf8(export: str, reason: str) -> None:
    p = plugin("bad_utf8")
    message = f"unable to load error message from memory: {reason}"
    with pytest.raises(CallError, match=f"^{re.escape(message)}$"):
        call(p, export)
    assert_usable(p)


def test_log_message_that_is_not_utf8_when_logs_are_disabled(plugin_logs_disabled: None) -> None:
    p = plugin("bad_utf8")
    assert call(p, "log") == b""  # messages are dropped unread
    assert_usable(p)


def test_log_message_that_is_not_utf8(caplog: pytest.LogCaptureFixture) -> None:
    p = plugin("bad_utf8")
    with caplog.at_level(logging.INFO, logger="wasmplug.plugin"):
        assert call(p, "log") == b""
    records = [(r.levelno, r.getMessage()) for r in caplog.records if r.name == "wasmplug.plugin"]
    reason = "'utf-8' codec can't decode byte 0xff in position 0: invalid start byte"
    assert records == [(logging.ERROR, f"plug-in log message is not valid UTF-8 ({reason})")] * 2
    assert_usable(p)


@pytest.mark.parametrize("export", ["config_key", "var_key"])
def test_config_and_var_keys_that_are_not_utf8(export: str) -> None:
    p = plugin("bad_utf8")
    with pytest.raises(CallError, match=r"^'utf-8' codec can't decode byte 0xff in position 0: "
                                        r"invalid start byte$"):
        call(p, export)
    assert p.vars == {}
    assert_usable(p)


# ----------------------------------------------------------------- forged handles


@pytest.mark.parametrize(("export", "what"), [
    ("config_get", "config key"), ("var_get", "var key"), ("var_set_key", "var key"),
    ("var_set_value", "var value"), ("http_request", "http request"),
    ("http_body", "http request body"), ("log", "log message")])
@pytest.mark.parametrize("handle", [12_345, 78, 65_535, 2**32 + 77, U64_MAX])
def test_forged_handles_are_refused(export: str, what: str, handle: int,
                                    caplog: pytest.LogCaptureFixture) -> None:
    p = plugin("bad_handles", allowed_hosts=["127.0.0.1"])
    with (caplog.at_level(logging.INFO, logger="wasmplug.plugin"),
          pytest.raises(CallError, match=f"^invalid handle offset for {what}: {handle}$")):
        call(p, export, pack(handle))
    assert p.vars == {}
    assert_usable(p)


def test_forged_log_handle_is_dropped_when_logs_are_disabled(plugin_logs_disabled: None) -> None:
    p = plugin("bad_handles")
    assert call(p, "log", pack(12_345)) == b""


# ----------------------------------------------------------------- traps


@pytest.mark.parametrize(("export", "text"), [
    ("oob", "out of bounds memory access"),
    ("div_zero", "integer divide by zero"),
    ("overflow", "integer overflow"),
    ("bad_convert", "invalid conversion to integer"),
    ("null_call", "uninitialized element"),
    ("bad_signature", "indirect call type mismatch"),
    ("unreachable", "wasm `unreachable` instruction executed"),
])
def test_guest_traps(export: str, text: str) -> None:
    p = plugin("guest_traps")
    with pytest.raises(CallError, match=re.escape(text)) as info:
        call(p, export)
    assert info.value.code == 134
    assert_usable(p)


def test_trap_in_initialize_fails_every_call_the_same_way() -> None:
    p = plugin("init_trap")
    messages = []
    for export in ("ok", "ok", "ready", "ok"):
        with pytest.raises(CallError, match=r"initialisation") as info:
            call(p, export)
        assert "unreachable" in str(info.value)
        assert info.value.code == 134
        messages.append(str(info.value))
    assert len(set(messages)) == 1


def test_trap_in_the_start_function_fails_every_call_the_same_way() -> None:
    p = plugin("start_trap")
    with elapsed_at_most(30):
        for _ in range(300):  # each attempt starts from a fresh store: nothing accumulates
            with pytest.raises(CallError, match=r"(?s)^plug-in initialisation \(its start "
                                                r"function\) trapped: .*unreachable") as info:
                p.call("ok", b"")
            assert info.value.code == 134


def test_atomic_wait_on_shared_memory_is_refused() -> None:
    p = plugin("atomic_wait", timeout_ms=300)
    with pytest.raises(LoadError, match=r"^Unable to create Extism plugin: shared memory support "
                                        r"is disabled"):
        call(p, "run")


def test_atomic_wait_on_unshared_memory_traps_at_once() -> None:
    p = plugin("atomic_wait_unshared", timeout_ms=300)
    with pytest.raises(CallError, match="atomic wait on non-shared memory") as info:
        call(p, "run")
    assert info.value.code == 134
    assert_usable(p)


# ----------------------------------------------------------------- host functions


def explode_with(f: Callable[[CurrentPlugin, list[Val], list[Val]], None]) -> Function:
    return Function(None, "explode", [ValType.I64], [ValType.I64], f)


def test_host_function_that_raises() -> None:
    def raises(cp: CurrentPlugin, params: list[Val], results: list[Val]) -> None:
        raise ValueError(f"kaboom: {cp.input_string(params[0])}")

    p = plugin("host_fn_raises", functions=[explode_with(raises)])
    with pytest.raises(CallError, match=r"^kaboom: payload$") as info:
        call(p, "run", "payload")
    assert isinstance(info.value.__cause__, ValueError)
    assert_usable(p)


@pytest.mark.parametrize(("exc", "message"), [
    (Error("a wasmplug error"), r"^a wasmplug error$"),
    (RuntimeError(), r"^RuntimeError$"),
    (RecursionError("maximum recursion depth exceeded"), r"^maximum recursion depth exceeded$"),
    (MemoryError(), r"^MemoryError$"),
])
def test_host_function_raising_other_exceptions(exc: Exception, message: str) -> None:
    def raises(cp: CurrentPlugin, params: list[Val], results: list[Val]) -> None:
        raise exc

    p = plugin("host_fn_raises", functions=[explode_with(raises)])
    with pytest.raises(CallError, match=message) as info:
        call(p, "run", "x")
    assert info.value.__cause__ is exc
    assert_usable(p)


def test_host_function_returning_the_wrong_type() -> None:
    def wrong(cp: CurrentPlugin, params: list[Val], results: list[Val]) -> None:
        results[0].value = "not a number"

    p = plugin("host_fn_raises", functions=[explode_with(wrong)])
    with pytest.raises(CallError, match=r"invalid literal for int\(\)"):
        call(p, "run", "x")
    assert_usable(p)


def test_host_function_error_set_wins_over_its_exception() -> None:
    def sets_then_raises(cp: CurrentPlugin, params: list[Val], results: list[Val]) -> None:
        cp.set_error("TEST")
        raise ValueError("ignored")

    p = plugin("host_fn_raises", functions=[explode_with(sets_then_raises)])
    with pytest.raises(CallError, match=r"^TEST$"):
        call(p, "run", "x")
    assert_usable(p)


def test_host_function_imported_with_the_wrong_signature_is_refused_at_load() -> None:
    fn = explode_with(lambda cp, params, results: None)
    with pytest.raises(LoadError, match=re.escape(
            "Unable to create Extism plugin: module 'main' import extism:host/user.explode has "
            "type ('f32', 'i32') -> ('f64',), but the host provides ('i64',) -> ('i64',)")):
        plugin("host_fn_wrong_sig", functions=[fn])


def test_kernel_function_imported_with_the_wrong_signature_is_refused_at_load() -> None:
    with pytest.raises(LoadError, match=re.escape(
            "Unable to create Extism plugin: module 'main' import extism:host/env.alloc has "
            "type ('i32',) -> ('i32',), but the host provides ('i64',) -> ('i64',)")):
        plugin("kernel_wrong_sig")


def test_missing_import_is_refused_at_load_with_its_name() -> None:
    with pytest.raises(LoadError, match=r"^Unable to create Extism plugin: unknown import "
                                        r"extism:host/user\.not_provided \(module 'main'"):
        plugin("import_missing")


def test_wasi_import_without_wasi_is_refused_at_load() -> None:
    with pytest.raises(LoadError, match=re.escape(
            "Unable to create Extism plugin: module 'main' import wasi_snapshot_preview1.fd_write "
            "needs WASI, which is off; create the plug-in with wasi=True to grant it")):
        plugin("import_wasi_when_off")


def test_reentrant_call_through_a_host_function() -> None:
    holder: list[Plugin] = []
    other = Plugin(wasm("count_vowels").read_bytes(), functions=[])
    answers: list[bytes] = []

    def call_back(cp: CurrentPlugin, params: list[Val], results: list[Val]) -> None:
        answers.append(other.call("count_vowels", "aaa"))  # another plug-in: allowed
        holder[0].call("ok", b"")  # the plug-in that is calling us: refused

    p = plugin("reentrant", functions=[Function(None, "call_back", [], [], call_back)])
    holder.append(p)
    for _ in range(2):
        with pytest.raises(CallError, match=r"^cannot make reentrant calls into plugin$"):
            call(p, "run")
    assert [json.loads(a)["count"] for a in answers] == [3, 3]
    assert_usable(p)


# ----------------------------------------------------------------- invalid modules


def test_module_that_does_not_validate() -> None:
    # Our hint first, then wasmtime's detail: what was wrong and at which offset.
    with pytest.raises(LoadError, match=r"^Unable to compile Extism plugin: module 'main' is not "
                                        r"valid WebAssembly; check .*\(wasmtime: type mismatch: "
                                        r"expected i32, found i64 \(at offset 0x[0-9a-f]+\)\)$"):
        plugin("invalid_types")


@pytest.mark.parametrize("name", ["garbage", "truncated"])
def test_module_that_is_not_wasm(name: str) -> None:
    with pytest.raises(LoadError, match=r"^Unable to compile Extism plugin: module 'main' is not "
                                        r"valid WebAssembly; check .*\(wasmtime: .+\)$"):
        plugin(name)
    with pytest.raises(LoadError, match=r"^Unable to compile Extism plugin"):
        Plugin(hostile(name).read_bytes(), functions=[])


def test_empty_file() -> None:
    with pytest.raises(LoadError, match=r"^Unable to compile Extism plugin: module 'main' is not "
                                        r"valid WebAssembly; check .*\(wasmtime: expected at least one "
                                        r"module field \(at line 1, column 1\)\)$"):
        plugin("empty")
    for source in (str(hostile("empty")), b""):
        with pytest.raises(wasmplug.ManifestError, match=r"^No wasm files specified"):
            Plugin(source, functions=[])


# ----------------------------------------------------------------- HTTP


class HostileServer(BaseHTTPRequestHandler):
    """/bytes/N, /endless (chunked, never ends), /gzip/N (N zero bytes,
    gzip-compressed), /drip/N/SECONDS (N bytes, one at a time), /echo."""

    protocol_version = "HTTP/1.1"
    seen: ClassVar[list[str]] = []

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        HostileServer.seen.append(self.path)
        parts = self.path.strip("/").split("/")
        try:
            if parts[0] == "bytes":
                self._head(200, {"Content-Length": parts[1]})
                self.wfile.write(b"x" * int(parts[1]))
            elif parts[0] == "endless":
                self._head(200, {"Transfer-Encoding": "chunked"})
                chunk = b"%x\r\n%s\r\n" % (65_536, b"y" * 65_536)
                while True:
                    self.wfile.write(chunk)
            elif parts[0] == "gzip":
                body = gzip.compress(bytes(int(parts[1])), compresslevel=9)
                self._head(200, {"Content-Length": str(len(body)), "Content-Encoding": "gzip"})
                self.wfile.write(body)
            elif parts[0] == "drip":
                n, pause = int(parts[1]), float(parts[2])
                self._head(200, {"Content-Length": str(n)})
                for _ in range(n):
                    self.wfile.write(b"d")
                    self.wfile.flush()
                    time.sleep(pause)
            else:
                self._head(200, {"Content-Length": "5"})
                self.wfile.write(b"hello")
        except (BrokenPipeError, ConnectionResetError):
            pass

    def _head(self, status: int, headers: dict[str, str]) -> None:
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.flush()


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with serve_handler(HostileServer) as url:
        yield url


def fetch(url: str) -> str:
    return json.dumps({"url": url})


def test_http_to_hosts_not_allowed(server: str) -> None:
    port = server.rsplit(":", 1)[1]
    p = plugin("http_forbidden", allowed_hosts=["127.0.0.1"])
    assert call(p, "run", fetch(f"{server}/echo")) == b"hello"  # the allowed host works
    before = len(HostileServer.seen)
    for url, host in [
        (f"http://localhost:{port}/echo", "localhost"),
        (f"http://127.0.0.1@localhost:{port}/echo", "localhost"),
        (f"http://127.0.0.1:{port}@localhost:{port}/echo", "localhost"),
        ("http://127.0.0.1.evil.example/", "127.0.0.1.evil.example"),
        (f"http://[::1]:{port}/echo", "::1"),
        (f"http://2130706433:{port}/echo", "2130706433"),
        ("https://example.com/", "example.com"),
    ]:
        with pytest.raises(CallError, match=f"^HTTP request to {re.escape(url)} is not allowed: "
                                            f"the host '{re.escape(host)}' does not match"):
            call(p, "run", fetch(url))
    for url in ["file:///etc/passwd", "ftp://127.0.0.1/", "127.0.0.1/echo"]:
        with pytest.raises(CallError, match=f"^Invalid URL: {re.escape(url)}"):
            call(p, "run", fetch(url))
    assert HostileServer.seen[before:] == []
    assert_usable(p)


def test_http_without_allowed_hosts_reaches_nothing(server: str) -> None:
    p = plugin("http_forbidden")
    before = len(HostileServer.seen)
    with pytest.raises(CallError, match=r"is not allowed"):
        call(p, "run", fetch(f"{server}/echo"))
    assert HostileServer.seen[before:] == []


@pytest.mark.parametrize("path", ["bytes/1000001", "endless", "gzip/100000000"])
def test_http_response_bomb(server: str, path: str) -> None:
    p = plugin("http_response_bomb", allowed_hosts=["127.0.0.1"],
               memory={"max_http_response_bytes": 1_000_000})
    assert call(p, "run", fetch(f"{server}/bytes/1000000")) == b"x" * 1_000_000
    with pytest.raises(CallError, match=r"^HTTP response exceeds the configured maximum number "
                                        r"of bytes: 1000000\b") as info:
        call(p, "run", fetch(f"{server}/{path}"))
    assert info.value.limit == "memory.max_http_response_bytes"
    assert info.value.limit_value == 1_000_000
    assert_usable(p)


def test_http_hoarding_responses_is_oom(server: str) -> None:
    p = plugin("http_response_bomb", allowed_hosts=["127.0.0.1"], memory={"max_pages": 16})
    with pytest.raises(CallError, match=r"^oom: .*memory\.max_pages \(16 pages\)"):
        call(p, "hoard", fetch(f"{server}/bytes/100000"))
    assert_usable(p)


def test_http_response_dripping_past_the_timeout(server: str) -> None:
    p = plugin("http_response_bomb", allowed_hosts=["127.0.0.1"], timeout_ms=500)
    start = time.monotonic()
    with pytest.raises(CallTimeout, match=r"^timeout\b"):
        call(p, "run", fetch(f"{server}/drip/40/0.1"))  # 4 s of dripping
    assert time.monotonic() - start < 0.5 + MARGIN
    assert_usable(p)


# ----------------------------------------------------------------- WASI


def wasi_files(rw: Path, ro: Path, **kwargs: Any) -> Plugin:
    return Plugin({"wasm": [{"path": str(WASI_FILES)}], "timeout_ms": DEFAULT_TIMEOUT_MS,
                   "allowed_paths": {str(rw): "/data", f"ro:{ro}": "/ro"}},
                  wasi=kwargs.pop("wasi", True), functions=[], **kwargs)


EPERM = "Operation not permitted (EPERM, errno 63)"
ENOENT = "No such file or directory (ENOENT, errno 44)"


@pytest.mark.parametrize(("export", "argument", "reason"), [
    ("read_file", "/data/../outside/secret.txt", EPERM),
    ("read_file", "/data/./../outside/secret.txt", EPERM),
    ("read_file", "/data/../../../../etc/passwd", EPERM),
    ("read_file", "data/../../outside/secret.txt", EPERM),
    ("read_file", "../outside/secret.txt", ENOENT),
    ("read_file", "/etc/passwd", ENOENT),
    ("read_file", "/proc/self/environ", ENOENT),
    ("read_file", "/data/escape/secret.txt", EPERM),
    ("read_file", "/data/escape/../escape/secret.txt", EPERM),
    ("read_file", "/data/secret_link.txt", EPERM),
    ("read_file", "/data/relative_link.txt", EPERM),
    ("read_file", "/data/absolute_link", EPERM),
    ("write_file", "/data/../outside/new.txt\nx", EPERM),
    ("write_file", "/data/escape/new.txt\nx", EPERM),
    ("write_file", "/ro/new.txt\nx", EPERM),
    ("write_file", "/tmp/new.txt\nx", ENOENT),
    ("list_dir", "/data/..", EPERM),
    ("list_dir", "/data/escape", EPERM),
    ("list_dir", "/", ENOENT),
])
def test_wasi_path_escapes(wasi_dirs: tuple[Path, Path, Path], export: str, argument: str,
                           reason: str) -> None:
    rw, ro, outside = wasi_dirs
    p = wasi_files(rw, ro)
    path = argument.split("\n")[0]
    with pytest.raises(CallError, match=f"^{re.escape(f'{export}: {path}: {reason}')}$"):
        call(p, export, argument)
    assert sorted(x.name for x in outside.iterdir()) == ["secret.txt"]
    assert (outside / "secret.txt").read_text() == "top secret"
    assert sorted(x.name for x in ro.iterdir()) == ["hello.txt"]
    assert call(p, "read_file", "/ro/hello.txt") == b"hello world!"  # still usable


def test_wasi_sees_no_host_environment(wasi_dirs: tuple[Path, Path, Path],
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOST_SECRET", "do not leak")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "nor this")
    rw, ro, _ = wasi_dirs
    assert call(wasi_files(rw, ro), "getenv_all") == b""
    given = wasi_files(rw, ro, wasi=wasmplug.WasiOptions(env={"ONLY": "this"}))
    assert call(given, "getenv_all") == b"ONLY=this\n"
