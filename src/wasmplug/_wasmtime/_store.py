"""Stores (fuel, limits, epoch deadlines) and their WASI configuration.

A `Store` frees its C store exactly once: on `close()` (which may be called
any number of times) or `__del__`, never while the interpreter is finalising.
Items of a closed store cannot be used: `_context()` raises WasmtimeError.
"""

from __future__ import annotations

import ctypes
import errno
import os
import sys
from collections.abc import Callable, Iterable
from typing import Any

from ._engine import Engine
from ._errors import WasmtimeError, check
from ._held import RELEASE, held, hold
from ._lib import lib


class Store:
    """A store: the instances of one plug-in, its fuel, limits and WASI context."""

    _ptr: int = 0
    _ctx: int = 0

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._ptr = lib.wasmtime_store_new(engine._ptr, None, None)
        self._ctx = lib.wasmtime_store_context(self._ptr)

    def _context(self) -> int:
        ctx = self._ctx
        if not ctx:
            raise WasmtimeError("the store is closed")
        return ctx

    def set_fuel(self, fuel: int) -> None:
        check(lib.wasmtime_context_set_fuel(self._context(), fuel))

    def get_fuel(self) -> int:
        fuel = ctypes.c_uint64()
        check(lib.wasmtime_context_get_fuel(self._context(), ctypes.addressof(fuel)))
        return fuel.value

    def set_epoch_deadline(self, ticks_after_current: int) -> None:
        lib.wasmtime_context_set_epoch_deadline(self._context(), ticks_after_current)

    def set_limits(self, memory_size: int = -1, table_elements: int = -1, instances: int = -1,
                   tables: int = -1, memories: int = -1) -> None:
        """Bounds on what the store may hold (-1: no bound)."""
        self._context()
        lib.wasmtime_store_limiter(self._ptr, memory_size, table_elements, instances, tables, memories)

    def set_wasi(self, config: WasiConfig) -> None:
        check(lib.wasmtime_context_set_wasi(self._context(), config._take()))

    def close(self) -> None:
        """Free the store and everything in it now (again: nothing)."""
        ptr, self._ptr, self._ctx = self._ptr, 0, 0
        if ptr:
            lib.wasmtime_store_delete(ptr)

    def __del__(self) -> None:
        if self._ptr and not sys.is_finalizing():
            self.close()


@ctypes.CFUNCTYPE(ctypes.c_ssize_t, ctypes.c_void_p, ctypes.c_void_p,  # type: ignore[untyped-decorator]
                  ctypes.c_size_t)
def _on_output(token: int | None, data: int | None, size: int,
               _held: dict[int, Any] = held) -> int:
    try:
        written = _held[token or 0](ctypes.string_at(data or 0, size))
        return size if written is None else int(written)
    except Exception:
        return -errno.EIO


_ON_OUTPUT: int = ctypes.cast(_on_output, ctypes.c_void_p).value or 0


def _strings(values: Iterable[str]) -> Any:
    encoded = [v.encode("utf-8") for v in values]
    return (ctypes.c_char_p * max(len(encoded), 1))(*encoded)


class WasiConfig:
    """WASI preview 1 settings; used up by `Store.set_wasi`."""

    _ptr: int = 0

    def __init__(self) -> None:
        self._ptr = lib.wasi_config_new()

    def _live(self) -> int:
        if not self._ptr:
            raise WasmtimeError("this WasiConfig was given to a store already")
        return self._ptr

    def _take(self) -> int:
        ptr = self._live()
        self._ptr = 0
        return ptr

    def set_argv(self, argv: list[str]) -> None:
        array = _strings(argv)
        if not lib.wasi_config_set_argv(self._live(), len(argv), ctypes.addressof(array)):
            raise WasmtimeError("failed to configure argv")

    def set_env(self, pairs: Iterable[tuple[str, str]]) -> None:
        items = list(pairs)
        names, values = _strings(k for k, _ in items), _strings(v for _, v in items)
        if not lib.wasi_config_set_env(self._live(), len(items), ctypes.addressof(names),
                                       ctypes.addressof(values)):
            raise WasmtimeError("failed to configure the environment")

    argv = property(None, set_argv)
    env = property(None, set_env)

    def inherit_stdout(self) -> None:
        lib.wasi_config_inherit_stdout(self._live())

    def inherit_stderr(self) -> None:
        lib.wasi_config_inherit_stderr(self._live())

    def set_stdout_custom(self, callback: Callable[[bytes], int | None]) -> None:
        """Hand what the guest writes to stdout to `callback` (held until wasmtime drops it)."""
        lib.wasi_config_set_stdout_custom(self._live(), _ON_OUTPUT, hold(callback), RELEASE)

    def set_stderr_custom(self, callback: Callable[[bytes], int | None]) -> None:
        lib.wasi_config_set_stderr_custom(self._live(), _ON_OUTPUT, hold(callback), RELEASE)

    stdout_custom = property(None, set_stdout_custom)
    stderr_custom = property(None, set_stderr_custom)

    def preopen_dir(self, path: str, guest_path: str, fs_mutable: bool = True) -> None:
        if not lib.wasi_config_preopen_dir(self._live(), os.fsencode(path), guest_path.encode("utf-8"),
                                           fs_mutable):
            raise WasmtimeError(f"failed to add preopen dir {path!r}")

    def __del__(self) -> None:
        if self._ptr and not sys.is_finalizing():
            lib.wasi_config_delete(self._ptr)
            self._ptr = 0
