"""The kernel (kernel.wat) against ABI.md section 3 and the kernel behaviours of section 12."""

from __future__ import annotations

from typing import Any

import pytest

from wasmplug import _wasmtime as wasmtime
from wasmplug._engine import EngineSettings, Runtime
from wasmplug._kernel import BUDGET_TAKE_OOM, budget_set

from .conftest import standalone_imports

MASK = (1 << 64) - 1


class K:
    """Calls kernel exports through wasmtime's public API."""

    def __init__(self) -> None:
        rt = Runtime(EngineSettings())
        self.store = wasmtime.Store(rt.engine)
        self.store.set_epoch_deadline(1 << 40)
        instance = wasmtime.Instance(self.store, rt.kernel, standalone_imports(self.store))
        self.exports = instance.exports(self.store)

    def __getattr__(self, name: str) -> Any:
        func = self.exports[name]

        def call(*args: int) -> Any:
            result = func(self.store, *args)
            return result & MASK if isinstance(result, int) and result < 0 else result
        return call

    @property
    def memory(self) -> wasmtime.Memory:
        m = self.exports["memory"]
        assert isinstance(m, wasmtime.Memory)
        return m

    def reach(self) -> int:
        """Where the vault starts (kernel.wat: 65536 + the heap's growth at address 4)."""
        return 65_536 + int.from_bytes(bytes(self.memory.read(self.store, 4, 8)), "little")


@pytest.fixture
def k() -> K:
    return K()


def test_alloc_zero_and_length_zero(k: K) -> None:
    assert k.alloc(0) == 0
    assert k.length(0) == 0


def test_first_allocation_is_at_77_and_lengths_match(k: K) -> None:
    p = k.alloc(10)
    assert p == 77
    for n in (1, 100, 65_535, 65_536, 200_000, 3):
        q = k.alloc(n)
        assert q != 0
        assert k.length(q) == n
        assert k.length_unsafe(q) == n


def test_interior_and_freed_pointers_have_no_length(k: K) -> None:
    p = k.alloc(100)
    assert k.length(p + 1) == 0
    assert k.length(p + 50) == 0
    k.free(p)
    assert k.length(p) == 0
    assert k.length_unsafe(p) == 0


def test_freed_block_is_reused_without_split_when_close_in_size(k: K) -> None:
    # ABI.md 3.5 example: 65535 -> 77, free, again 77, free, 65511 -> 77 (24 < 128: no split)
    p = k.alloc(65_535)
    assert p == 77
    k.free(p)
    assert k.alloc(65_535) == 77
    k.free(77)
    assert k.alloc(65_511) == 77
    assert k.length(77) == 65_511


def test_large_free_block_is_split_from_its_tail(k: K) -> None:
    p = k.alloc(65_000)  # nearly the whole first page
    k.free(p)
    q = k.alloc(1_000)  # bump space exhausted -> reuse, split the tail
    assert q == p + 65_000 - 1_000
    assert k.length(q) == 1_000
    assert k.length(p) == 0  # front part stays free


def test_freed_blocks_only_reused_when_bump_space_is_exhausted(k: K) -> None:
    p = k.alloc(100)
    k.free(p)
    assert k.alloc(100) != p  # plenty of bump space: bumps


def test_growth_and_capacity_counter(k: K) -> None:
    assert k.memory_bytes() == 65_472
    p = k.alloc(200_000)
    assert p != 0
    assert k.memory_bytes() == 65_472 + 3 * 65_536
    assert k.memory.size(k.store) == 4 + 1  # the heap's 4 pages, then the vault's page


def test_unsatisfiable_allocations_return_zero(k: K) -> None:
    assert k.alloc(1 << 32) == 0
    assert k.alloc(MASK) == 0
    assert k.alloc(1 << 63) == 0


def test_reset_restarts_at_77_and_forgets_blocks(k: K) -> None:
    a = k.alloc(50)
    b = k.alloc(50)
    k.output_set(a, 50)
    k.error_set(b)
    k.reset()
    assert k.length(a) == 0 and k.length(b) == 0
    assert (k.output_offset(), k.output_length(), k.error_get()) == (0, 0, 0)
    assert k.alloc(5) == 77


def test_reset_zeroes_only_what_was_allocated(k: K) -> None:
    # Memory beyond the bump position is not touched by reset: its cost follows
    # the previous call's allocations, not the memory size.
    p = k.alloc(300_000)
    k.reset()
    k.store_u8(200_000, 0xAB)  # beyond position 0 now
    k.alloc(10)
    k.reset()
    assert k.load_u8(200_000) == 0xAB
    assert k.load_u8(p) == 0


def test_load_store_roundtrip_little_endian(k: K) -> None:
    p = k.alloc(16)
    k.store_u64(p, 999)
    assert k.load_u64(p) == 999
    for i in range(8):
        k.store_u8(p + i, i)
    assert k.load_u64(p) == 0x0706050403020100
    assert [k.load_u8(p + i) for i in range(8)] == list(range(8))
    k.store_u64(p + 3, 0x1122334455667788)  # unaligned
    assert k.load_u64(p + 3) == 0x1122334455667788


def test_out_of_bounds_access_is_ignored_not_a_trap(k: K) -> None:
    assert k.load_u64(0xFFFF_FFFF_FFFF) == 0
    k.store_u8(0xFFFF_FFFF_FFFF, 1)
    k.store_u64(MASK, 1)
    assert k.load_u8(MASK) == 0
    assert k.load_u64(MASK - 3) == 0
    end = k.reach()
    k.store_u64(end - 8, 5)  # exactly the last 8 bytes below the vault: allowed
    assert k.load_u64(end - 8) == 5
    assert k.load_u64(end - 7) == 0


def test_root_record_cannot_be_written_by_store(k: K) -> None:
    k.store_u8(17, 0xFF)  # capacity counter
    k.store_u64(9, 0)     # bump position
    assert k.memory_bytes() == 65_472


def test_input_registers(k: K) -> None:
    n = 123_456
    p = k.alloc(n)
    for i in range(0, n, 4096):
        k.store_u8(p + i, (i // 4096) % 256)
    k.input_set(p, n)
    assert (k.input_offset(), k.input_length()) == (p, n)
    assert all(k.input_load_u8(i) == (i // 4096) % 256 for i in range(0, n, 4096))
    assert k.input_load_u8(n) == 0
    assert k.input_load_u64(n - 8) == k.load_u64(p + n - 8)
    assert k.input_load_u64(n - 7) == 0
    assert k.input_load_u64(123_457) == 0
    assert k.input_load_u64(MASK) == 0


def test_set_ranges_outside_heap_are_ignored(k: K) -> None:
    p = k.alloc(10)
    k.output_set(p, 10)
    k.output_set(5, 10)           # before the heap
    k.output_set(p, 1 << 40)      # past the heap
    k.output_set(0, 0)
    assert (k.output_offset(), k.output_length()) == (p, 10)


def test_free_of_input_clears_input_length(k: K) -> None:
    p = k.alloc(10)
    k.input_set(p, 10)
    k.free(p)
    assert k.input_length() == 0
    assert k.input_offset() == p


def test_error_register(k: K) -> None:
    p = k.alloc(4)
    k.error_set(p)
    assert k.error_get() == p
    k.error_set(3)  # not in the heap: ignored
    assert k.error_get() == p
    k.error_set(0)
    assert k.error_get() == 0


def test_double_free_and_bogus_free_are_no_ops(k: K) -> None:
    p = k.alloc(10)
    q = k.alloc(10)
    k.free(p)
    k.free(p)
    k.free(p + 3)
    k.free(MASK)
    assert k.length(q) == 10


def test_begin_call_resets_and_places_input(k: K) -> None:
    k.alloc(1000)
    p = k.alloc(1)
    k.error_set(p)
    offset = k.wasmplug_begin_call(20)
    assert offset == 77
    assert (k.input_offset(), k.input_length(), k.error_get()) == (77, 20, 0)
    assert k.wasmplug_begin_call(0) == 0
    assert k.input_length() == 0


def test_take_returns_length_and_frees(k: K) -> None:
    p = k.alloc(33)
    assert k.wasmplug_take(p) == 33
    assert k.length(p) == 0
    assert k.wasmplug_take(p) == 0


def test_page_budget_limits_kernel_growth(k: K) -> None:
    k.wasmplug_budget(budget_set(3))
    assert k.alloc(100_000) != 0      # grows 1 page
    assert k.alloc(100_000) != 0      # grows 2 more: budget spent
    assert k.wasmplug_budget(BUDGET_TAKE_OOM) == 0
    with pytest.raises(wasmtime.Trap):  # would need 2 more: refused with a trap
        k.alloc(100_000)
    assert k.wasmplug_budget(BUDGET_TAKE_OOM) == 1 and k.wasmplug_budget(BUDGET_TAKE_OOM) == 0
    assert k.memory.size(k.store) == 4 + 1  # the heap's 4 pages, then the vault's page
    k.wasmplug_budget(budget_set(None))
    assert k.alloc(100_000) != 0


def test_page_budget_is_taken_and_refunded_by_guest_growth(k: K) -> None:
    # ops 0 and 1: what a rewritten memory.grow calls before growing, and after a refused grow
    k.wasmplug_budget(budget_set(5))
    assert k.wasmplug_budget(3 << 2) == 0      # takes 3 of 5
    with pytest.raises(wasmtime.Trap):
        k.wasmplug_budget(3 << 2)              # 2 left: refused
    assert k.wasmplug_budget(BUDGET_TAKE_OOM) == 1
    with pytest.raises(wasmtime.Trap):
        k.wasmplug_budget(2 << 2 | 1)          # a refused grow of 2: refunded, still a trap
    assert k.wasmplug_budget(BUDGET_TAKE_OOM) == 1
    assert k.wasmplug_budget(4 << 2) == 0      # 2 + 2 refunded = 4 left
    with pytest.raises(wasmtime.Trap):
        k.wasmplug_budget(1 << 2)
    k.wasmplug_budget(budget_set(None))
    assert k.wasmplug_budget(1 << 60) == 0     # unlimited: anything goes


def test_begin_call_zeroes_the_old_heap_beyond_the_new_input(k: K) -> None:
    p = k.alloc(1000)
    for i in range(0, 1000, 7):
        k.store_u8(p + i, 0xFF)
    offset = k.wasmplug_begin_call(10)
    assert offset == 77
    assert all(k.load_u8(77 + 10 + i) == 0 for i in range(0, 1000))
    assert k.length(77) == 10
