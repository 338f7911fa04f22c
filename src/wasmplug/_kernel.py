"""The host's view of one kernel instance (kernel.wat): its functions and memory.

Plug-ins import the kernel's functions wasm-to-wasm (`KERNEL_FUNCTIONS`); the
host calls a few of them through the call path and reads and writes the
kernel's memory directly (`read`, `write`, `registers`), and the config and
vars in the vault, the top of that memory, which plug-ins cannot reach (`Vault`).
"""

from __future__ import annotations

import ctypes
import struct
from collections.abc import Iterator, Mapping
from typing import Final

from . import _wasmtime as wasmtime
from ._callpath import I32, I64, CallPath

# Every function a plug-in may import from `extism:host/env` that the kernel
# implements, with its exact signature (ABI.md 2.1).
KERNEL_FUNCTIONS: Final[dict[str, tuple[tuple[str, ...], tuple[str, ...]]]] = {
    "alloc": ((I64,), (I64,)),
    "free": ((I64,), ()),
    "length": ((I64,), (I64,)),
    "length_unsafe": ((I64,), (I64,)),
    "load_u8": ((I64,), (I32,)),
    "load_u64": ((I64,), (I64,)),
    "store_u8": ((I64, I32), ()),
    "store_u64": ((I64, I64), ()),
    "input_offset": ((), (I64,)),
    "input_length": ((), (I64,)),
    "input_load_u8": ((I64,), (I32,)),
    "input_load_u64": ((I64,), (I64,)),
    "input_set": ((I64, I64), ()),
    "output_set": ((I64, I64), ()),
    "output_offset": ((), (I64,)),
    "output_length": ((), (I64,)),
    "error_set": ((I64,), ()),
    "error_get": ((), (I64,)),
    "reset": ((), ()),
    "memory_bytes": ((), (I64,)),
    # host environment functions whose handles the kernel takes before it calls
    # the host (kernel.wat, "host environment"; _host_env.KERNEL_IMPORTS)
    "config_get": ((I64,), (I64,)),
    "var_get": ((I64,), (I64,)),
    "var_set": ((I64, I64), ()),
}

# The host environment functions among KERNEL_FUNCTIONS (ABI.md 2.1 lists them as the host's).
HOST_ENV_IN_KERNEL: Final = frozenset({"config_get", "var_get", "var_set"})

MASK64: Final = (1 << 64) - 1
_REGISTERS = struct.Struct("<QQQQQ")  # error, input offset/length, output offset/length
_REGISTERS_AT: Final = 25
_BUMP = struct.Struct("<QQ")  # address 9: position, length (kernel.wat's layout)
_BUMP_AT: Final = 9
_HEAP: Final = 65
_INITIAL_LENGTH: Final = 65_472  # the allocator's capacity counter of a new kernel ($init)
_HEADER = struct.Struct("<II")  # a block header's size and used, 4 bytes after its status
# addresses 9 to 65 once a call's input is placed: position, length, error, input offset/length,
# output offset/length, and the status of the input's block
_PLACED = struct.Struct("<QQQQQQQB")
_ZEROS = memoryview(bytes(4096))
LARGE_COPY: Final = 1 << 16  # bytes; Kernel.write releases the GIL for larger copies


# wasmplug_budget(pages << 2 | op), kernel.wat: the ops the host uses.
BUDGET_SET: Final = 2
BUDGET_TAKE_OOM: Final = 3
BUDGET_UNLIMITED: Final = (1 << 62) - 1


def budget_set(pages: int | None) -> int:
    """The argument of wasmplug_budget that sets the budget (a signed i64)."""
    value = ((BUDGET_UNLIMITED if pages is None else pages) << 2 | BUDGET_SET) & MASK64
    return value - (1 << 64) if value >> 63 else value


class KernelMemoryError(Exception):
    """A plug-in named kernel memory outside the kernel's bounds."""


class VaultFull(Exception):
    """The vault could not grow to hold more config or vars (the store's memory limit)."""


# The vault (kernel.wat, "The vault", "config and vars"): the top of the kernel's memory,
# from 65536 + the u32 at address 4 (the heap's growth) to the memory's end. From its
# start: u32 config length at 16, u32 bytes ever written at 20, the config's entries
# from 64, then the vars table, ended by a u32 0. Entry: u32 key length + 1, u32 value
# length, the key, the value.
_U32 = struct.Struct("<I")
_GROWTH_AT: Final = 4
VAULT_FIRST: Final = 65_536  # where the vault starts while the heap has not grown
_CONFIG_LENGTH = _U32
_CONFIG_LENGTH_AT: Final = 16
_WRITTEN_AT: Final = 20
VAULT_HEADER: Final = 64
_ENTRY = struct.Struct("<II")
_END: Final = b"\0\0\0\0"
DEFAULT_VAR_LIMIT: Final = 1_048_576  # kernel.wat's initial $var_limit
VAR_ENTRY_OVERHEAD: Final = 48  # what each var counts against memory.max_var_bytes, besides its bytes
_PAGE: Final = 65_536


def _entry(key: bytes, value: bytes) -> bytes:
    return _ENTRY.pack(len(key) + 1, len(value)) + key + value


class Vault:
    """The config and the vars of one kernel instance, at the top of its memory.

    The kernel answers the plug-in's config_get, var_get and var_set from here
    in Wasm; the host reads it, writes the config region (between calls) and
    sets or deletes vars by writing the whole table again (it runs no guest
    code meanwhile, so it needs none of var_set's care for being cut short).
    The vault moves up when the heap grows, so each operation finds it anew
    (`_at`); addresses below are relative to its start.
    """

    def __init__(self, kernel: Kernel) -> None:
        self.kernel = kernel

    def _at(self) -> int:
        """Where the vault starts now (the kernel's view refreshed to cover it)."""
        kernel = self.kernel
        view = kernel.view
        # Address 0 is nobody's: writing it first makes a new kernel's first page
        # fault in once (written), not twice (read as the zero page, then written).
        view[0] = 0
        at: int = VAULT_FIRST + _U32.unpack_from(view, _GROWTH_AT)[0]
        if at + VAULT_HEADER > kernel.size:
            kernel.refresh()
        return at

    def written(self) -> int:
        """Bytes from the vault's start ever written (0: it is all zero, empty)."""
        at = self._at()
        n: int = _U32.unpack_from(self.kernel.view, at + _WRITTEN_AT)[0]
        return n

    def _size(self, at: int) -> int:
        """Bytes of the vault from `at` to the memory's end (as far as the view knows)."""
        kernel = self.kernel
        if kernel.size - at < _PAGE:  # the vault is at least one page: the view is stale
            kernel.refresh()
        return kernel.size - at

    def _room(self, at: int, end: int) -> None:
        """Make the vault at least `end` bytes long and mark them written."""
        kernel = self.kernel
        if at + end > kernel.size:
            kernel.refresh()
            if at + end > kernel.size:
                try:
                    kernel.memory.grow(kernel.store, (at + end - kernel.size + _PAGE - 1) // _PAGE)
                except wasmtime.WasmtimeError as exc:
                    raise VaultFull(f"no room for {end} bytes of config and vars: {exc}") from None
                kernel.refresh()
        view = kernel.view
        if _U32.unpack_from(view, at + _WRITTEN_AT)[0] < end:
            _U32.pack_into(view, at + _WRITTEN_AT, end)

    # -- reading -------------------------------------------------------------
    def _vars_start(self, at: int) -> int:
        length: int = _CONFIG_LENGTH.unpack_from(self.kernel.view, at + _CONFIG_LENGTH_AT)[0]
        return VAULT_HEADER + length

    def _entries(self, at: int, start: int, limit: int) -> Iterator[tuple[int, bytes, bytes]]:
        """(entry size, key, value) of each entry from `start` to a 0 word or `limit`."""
        view = self.kernel.view[at:at + limit]
        p = start
        while p + 8 <= limit:
            k, v = _ENTRY.unpack_from(view, p)
            if k == 0 or p + 7 + k + v > limit:
                return
            yield 7 + k + v, bytes(view[p + 8:p + 7 + k]), bytes(view[p + 7 + k:p + 7 + k + v])
            p += 7 + k + v

    def _vars(self) -> list[tuple[int, bytes, bytes]]:
        at = self._at()
        return list(self._entries(at, self._vars_start(at), self._size(at)))

    def config_get(self, key: bytes) -> bytes | None:
        at = self._at()
        return next((v for _, k, v in self._entries(at, VAULT_HEADER, self._vars_start(at))
                     if k == key), None)

    def var_get(self, key: bytes) -> bytes | None:
        return next((v for _, k, v in self._vars() if k == key), None)

    def var_items(self) -> list[tuple[bytes, bytes]]:
        return [(k, v) for _, k, v in self._vars()]

    def var_count(self) -> int:
        return len(self._vars())

    def var_bytes(self) -> int:
        """What the vars count against memory.max_var_bytes: 48 + key + value bytes each."""
        return sum(VAR_ENTRY_OVERHEAD + len(k) + len(v) for _, k, v in self._vars())

    def snapshot(self) -> bytes:
        """The vars table without its end (for `load` into another vault)."""
        return b"".join(_entry(k, v) for _, k, v in self._vars())

    # -- writing -------------------------------------------------------------
    def _write_vars(self, table: bytes) -> None:
        at = self._at()
        start = self._vars_start(at)
        self._room(at, start + len(table) + 4)
        self.kernel.view[at + start:at + start + len(table) + 4] = table + _END

    def var_set(self, key: bytes, value: bytes) -> None:
        if len(key) >= 1 << 31 or len(value) >= 1 << 31:
            raise VaultFull(f"a var of {len(key)} + {len(value)} bytes cannot be kept")
        self._write_vars(b"".join([*(_entry(k, v) for _, k, v in self._vars() if k != key),
                                   _entry(key, value)]))

    def var_delete(self, key: bytes) -> None:
        self._write_vars(b"".join(_entry(k, v) for _, k, v in self._vars() if k != key))

    def clear_vars(self) -> None:
        self._write_vars(b"")

    def load(self, config: Mapping[str, str], carried: bytes | None = None) -> None:
        """Write the config region; the vars move after it, or are `carried` (a `snapshot`)."""
        at = self._at()
        view = self.kernel.view
        view[at] = 0  # (the vault's byte 0 is nobody's: the page faults in once, as above)
        table = carried
        if table is None:  # (a vault never written, a new plug-in's, holds no vars)
            table = self.snapshot() if _U32.unpack_from(view, at + _WRITTEN_AT)[0] else b""
        region = b"".join(_entry(k.encode("utf-8"), v.encode("utf-8")) for k, v in config.items())
        end = VAULT_HEADER + len(region) + len(table) + 4
        self._room(at, end)
        view = self.kernel.view  # (_room may have grown the memory)
        view[at + VAULT_HEADER:at + end] = region + table + _END
        _CONFIG_LENGTH.pack_into(view, at + _CONFIG_LENGTH_AT, len(region))


class Kernel:
    """One kernel instance in one store.

    It also keeps the plug-in's page budget (ABI.md 7.1): with `max_pages`
    set, every `memory.grow` of every memory of the plug-in draws from it.
    """

    def __init__(self, store: wasmtime.Store, instance: wasmtime.Instance,
                 path: CallPath, max_pages: int | None = None,
                 var_limit: int = DEFAULT_VAR_LIMIT) -> None:
        self.max_pages = max_pages
        self.store = store
        self.instance = instance
        self.path = path
        memory = path.export(store, instance, "memory")
        assert isinstance(memory, wasmtime.Memory)
        self.memory = memory
        self.call = path.caller(store, instance)
        self._begin_call = self.call.bound_i64_i64("wasmplug_begin_call")
        self.base = 0
        self.size = 0
        self._map()
        # (a new kernel's heap has not grown: reading address 4 would fault its first
        # page in, a page of RSS for every plug-in that is never called)
        self.reach = VAULT_FIRST
        if max_pages is not None:
            self.set_page_budget(max_pages)
        if var_limit != DEFAULT_VAR_LIMIT:
            limit = path.export(store, instance, "wasmplug_var_limit")
            assert isinstance(limit, wasmtime.Global)
            signed = min(var_limit, MASK64)
            limit.set_value(store, wasmtime.Val.i64(signed - (1 << 64) if signed >> 63 else signed))

    @property
    def has_vault(self) -> bool:
        """True once anything was written to the vault (else it is empty: all zero)."""
        return self.vault.written() != 0

    @property
    def vault(self) -> Vault:
        """The config and vars (a view made on each use, so it holds the kernel in no cycle)."""
        return Vault(self)

    # -- memory ----------------------------------------------------------
    # The engine is configured with `memory_may_move = False`, so the memory's
    # address is fixed for the life of the store; its size only grows, and so
    # does `reach`, where the vault starts (the end of what plug-ins address).
    # `size` and `reach` are therefore lower bounds, re-read only when an access
    # falls outside them.
    def refresh(self) -> None:
        """Re-read the memory's address and size, and where the vault starts."""
        self._map()
        self.reach = VAULT_FIRST + _U32.unpack_from(self.view, _GROWTH_AT)[0]

    def _map(self) -> None:
        self.base, self.size = self.path.memory_base(self.store, self.memory)
        # Bytes in and out through a view: no C call (so the GIL stays held,
        # and a copy of a few hundred bytes costs ~0.1 µs instead of ~0.3).
        self.view = memoryview((ctypes.c_char * self.size).from_address(self.base)).cast("B")

    def check_range(self, offset: int, length: int) -> None:
        """Raise KernelMemoryError unless [offset, offset + length) is in the memory below
        the vault (a plug-in's address in the vault is out of bounds, as in the kernel)."""
        if offset + length <= self.reach and offset >= 0 and length >= 0:
            return
        if offset < 0 or length < 0 or offset + length > self.reach:
            self.refresh()
            if offset < 0 or length < 0 or offset + length > self.reach:
                raise KernelMemoryError(
                    f"kernel memory range {offset}..{offset + length} is out of bounds "
                    f"(memory size {self.reach})")

    def read(self, offset: int, length: int) -> bytes:
        if length == 0:
            return b""
        if offset + length > self.reach or offset < 0 or length < 0:
            self.check_range(offset, length)
        return self.view[offset:offset + length].tobytes()

    def write(self, offset: int, data: bytes) -> None:
        n = len(data)
        if offset + n > self.reach or offset < 0:
            self.check_range(offset, n)
        if n <= LARGE_COPY:
            self.view[offset:offset + n] = data
        else:  # a large copy releases the GIL: other threads run meanwhile
            ctypes.memmove(self.base + offset, data, n)

    def registers(self) -> tuple[int, int, int, int, int]:
        """(error offset, input offset, input length, output offset, output length)."""
        return _REGISTERS.unpack_from(self.view, _REGISTERS_AT)

    # -- allocator -------------------------------------------------------
    def begin_call(self, data: bytes) -> bool:
        """Reset and place the call's input; False if it could not be allocated."""
        n = len(data)
        if 0 < n <= LARGE_COPY and self._place(data, n):
            return True
        try:
            offset = self._begin_call(n) & MASK64
        except wasmtime.Trap:
            if self.take_oom():
                return False
            raise
        if n == 0:
            return True
        if offset == 0:
            return False
        self.write(offset, data)
        return True

    def _place(self, data: bytes, n: int) -> bool:
        """kernel.wat's `wasmplug_begin_call` when its input surely fits the heap (it then
        takes the bump path and cannot fail), done here without a Wasm call: the same
        zeroing, registers, header and result (and its $init first, for a new kernel).
        False, having changed nothing else, when that does not apply (growth, bookkeeping
        out of shape): the kernel decides then."""
        view = self.view
        if not view[1]:  # kernel.wat's $init, here: the flag, an empty heap of 65 472 bytes
            _PLACED.pack_into(view, _BUMP_AT, 0, _INITIAL_LENGTH, 0, 0, 0, 0, 0, 0)
            view[_HEAP:_HEAP + 12] = _ZEROS[:12]  # the first block's header
            view[1] = 1
        used: int
        length: int
        used, length = _BUMP.unpack_from(view, _BUMP_AT)
        need = n + 12
        if need >= length - 64:
            return False
        if length > self.size or _HEAP + used > self.size:  # the memory may have grown since
            self.refresh()
            if length > self.size or _HEAP + used > self.size:
                return False
            view = self.view
        if used > need:  # the old heap past what the input's block overwrites
            start, count = _HEAP + need, used - need
            if count <= len(_ZEROS):
                view[start:start + count] = _ZEROS[:count]
            else:
                ctypes.memset(self.base + start, 0, count)
        _PLACED.pack_into(view, _BUMP_AT, need, length, 0, _HEAP + 12, n, 0, 0, 1)
        _HEADER.pack_into(view, _HEAP + 4, n, n)
        view[_HEAP + 12:_HEAP + 12 + n] = data
        return True

    def alloc(self, n: int) -> int:
        offset: int = self._bump(n) or self.call.i64_i64("alloc", n) & MASK64
        return offset

    def _bump(self, n: int) -> int:
        """kernel.wat's `alloc` when it takes its bump path, done here without a Wasm
        call: the same checks, the same header, the same result. 0 when that path
        does not apply (growth, reuse of a freed block, an uninitialised kernel,
        or bookkeeping the guest scribbled out of shape): the kernel decides then."""
        view = self.view
        if not 0 < n <= LARGE_COPY or not view[1]:
            return 0
        position: int
        length: int
        position, length = _BUMP.unpack_from(view, _BUMP_AT)
        need = n + 12
        header = _HEAP + position
        # the kernel's test, `need < length - position - 64`, without its u64 wrap-around
        if not (need < length - position - 64 and header + need <= self.size and length <= self.size):
            return 0
        _BUMP.pack_into(view, _BUMP_AT, position + need, length)
        view[header] = 1
        _HEADER.pack_into(view, header + 4, n, n)
        return header + 12

    def alloc_bytes(self, data: bytes) -> int:
        """A new block holding `data` (0 for empty data); MemoryError if full."""
        n = len(data)
        if n == 0:
            return 0
        offset = self._bump(n)
        if offset:
            self.view[offset:offset + n] = data
            return offset
        offset = self.alloc(n)
        if offset == 0:
            raise MemoryError("failed to allocate extism memory: out of memory")
        self.write(offset, data)
        return offset

    def free(self, offset: int) -> None:
        self.call.i64_void("free", offset)

    def length(self, offset: int) -> int:
        return self.call.i64_i64("length", offset) & MASK64

    def take(self, offset: int) -> tuple[int, int]:
        """(offset, length) of the block at `offset`, which is freed; length 0 if none."""
        offset &= MASK64
        if offset == 0:
            return 0, 0
        n: int = self.call.i64_i64("wasmplug_take", offset) & MASK64
        return offset, n

    def take_bytes(self, offset: int, what: str) -> bytes:
        """Consume a handle the plug-in passed: its bytes (b"" for handle 0)."""
        offset, n = self.take(offset)
        if offset and n == 0:
            raise KernelMemoryError(f"invalid handle offset for {what}: {offset}")
        return self.read(offset, n)

    def set_error(self, offset: int) -> None:
        self.call.i64_void("error_set", offset)

    def reset(self) -> None:
        self.call.void_void("reset")

    def take_oom(self) -> bool:
        """True if the page budget refused a growth since the last check
        (False if the kernel cannot be called, e.g. with no fuel left)."""
        try:
            return bool(self.call.i64_i64("wasmplug_budget", BUDGET_TAKE_OOM))
        except (wasmtime.Trap, wasmtime.WasmtimeError):
            return False

    def set_page_budget(self, pages: int | None) -> None:
        """Pages all memories may still grow by (None: unlimited)."""
        self.call.i64_i64("wasmplug_budget", budget_set(pages))

    # -- the page budget ------------------------------------------------------
    @property
    def budgeted(self) -> bool:
        return self.max_pages is not None

    def budget_for_instantiation(self, needed: int) -> str | None:
        """Take `needed` pages (the memories a new instance defines) from the budget; the
        start function draws from what is left. Returns why it cannot, or None."""
        if self.max_pages is None:
            return None
        if needed > self.max_pages:
            return (f"the plug-in's memories need {needed} pages when instantiated; "
                    f"memory.max_pages allows {self.max_pages}")
        self.set_page_budget(self.max_pages - needed)
        return None

    def refill_budget(self) -> None:
        """The whole budget again (after instantiation: the instance's pages are its own)."""
        if self.max_pages is not None:
            self.set_page_budget(self.max_pages)

    def over_budget(self) -> bool:
        """True if a growth was refused for the budget since the last check."""
        return self.max_pages is not None and self.take_oom()

    def memory_size_limit(self, initial_pages: int, vault_bytes: int) -> int:
        """Bytes any one memory may reach (store limits, a second line behind the budget):
        the largest initial size plus max_pages, or the kernel's: its heap's page and
        max_pages, and the vault's pages (what the config and the vars may need, at
        least the one it starts with; they do not draw from the budget)."""
        if self.max_pages is None:
            return -1
        vault_pages = max(1, -(-vault_bytes // _PAGE))
        return max(initial_pages + self.max_pages, 1 + self.max_pages + vault_pages) * _PAGE
