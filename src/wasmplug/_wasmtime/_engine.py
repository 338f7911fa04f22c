"""Engine configuration, engines, compiled modules and the text format.

Each object owns one C object and frees it exactly once: on `__del__`, or
never while the interpreter is finalising (the process is ending; another
thread, such as an epoch ticker, may still use it).
"""

from __future__ import annotations

import ctypes
import sys
from typing import Any

from ._errors import WasmtimeError, check
from ._lib import ByteVec, lib

_SETTERS = {
    "epoch_interruption": "wasmtime_config_epoch_interruption_set",
    "consume_fuel": "wasmtime_config_consume_fuel_set",
    "memory_may_move": "wasmtime_config_memory_may_move_set",
    "wasm_tail_call": "wasmtime_config_wasm_tail_call_set",
    "wasm_function_references": "wasmtime_config_wasm_function_references_set",
    "wasm_gc": "wasmtime_config_wasm_gc_set",
    "max_wasm_stack": "wasmtime_config_max_wasm_stack_set",
}


class Config:
    """Engine settings, set as attributes (as in wasmtime-py); used up by `Engine`."""

    _ptr: int = 0

    def __init__(self) -> None:
        self._ptr = lib.wasm_config_new()

    def __setattr__(self, name: str, value: Any) -> None:
        setter = _SETTERS.get(name)
        if setter is None:
            object.__setattr__(self, name, value)
            return
        if not self._ptr:
            raise WasmtimeError("this Config was used by an Engine already")
        getattr(lib, setter)(self._ptr, int(value) if name == "max_wasm_stack" else bool(value))

    def _take(self) -> int:
        ptr = self._ptr
        if not ptr:
            raise WasmtimeError("this Config was used by an Engine already")
        self._ptr = 0
        return ptr

    def __del__(self) -> None:
        if self._ptr and not sys.is_finalizing():
            lib.wasm_config_delete(self._ptr)
            self._ptr = 0


class Engine:
    """A wasmtime engine (with `config`, which it uses up, or the defaults)."""

    _ptr: int = 0

    def __init__(self, config: Config | None = None) -> None:
        self._ptr: int = (lib.wasm_engine_new_with_config(config._take()) if config is not None
                          else lib.wasm_engine_new())

    def increment_epoch(self) -> None:
        lib.wasmtime_engine_increment_epoch(self._ptr)

    def __del__(self) -> None:
        if self._ptr and not sys.is_finalizing():
            lib.wasm_engine_delete(self._ptr)
            self._ptr = 0


def wat2wasm(wat: str | bytes | bytearray) -> bytes:
    """The binary module for WebAssembly text; WasmtimeError says what is wrong."""
    text = wat.encode("utf-8") if isinstance(wat, str) else bytes(wat)
    out = ByteVec()
    check(lib.wasmtime_wat2wasm(text, len(text), ctypes.addressof(out)))
    return out.take()


def _binary(wasm: str | bytes | bytearray) -> bytes:
    """Binary Wasm; text (a str, or bytes not starting with the binary's 0 byte) converted."""
    if isinstance(wasm, str) or (wasm[:1] != b"\0" and wasm):
        return wat2wasm(wasm)
    return bytes(wasm)


class Module:
    """A compiled module."""

    _ptr: int = 0

    def __init__(self, engine: Engine, wasm: str | bytes | bytearray) -> None:
        binary = _binary(wasm)
        out = ctypes.c_void_p()
        check(lib.wasmtime_module_new(engine._ptr, binary, len(binary), ctypes.addressof(out)))
        self._ptr = out.value or 0

    @classmethod
    def _adopt(cls, ptr: int) -> Module:
        module: Module = cls.__new__(cls)
        module._ptr = ptr
        return module

    @staticmethod
    def validate(engine: Engine, wasm: bytes | bytearray) -> None:
        """WasmtimeError if `wasm` is not a valid module for `engine`."""
        data = bytes(wasm)
        check(lib.wasmtime_module_validate(engine._ptr, data, len(data)))

    @classmethod
    def deserialize_file(cls, engine: Engine, path: str) -> Module:
        """The module `serialize` wrote to `path` (mapped, not read)."""
        out = ctypes.c_void_p()
        check(lib.wasmtime_module_deserialize_file(engine._ptr, path.encode(), ctypes.addressof(out)))
        return cls._adopt(out.value or 0)

    @classmethod
    def deserialize_at(cls, engine: Engine, address: int, size: int) -> Module:
        """The module `serialize` made, from `size` bytes at `address` (copied as needed)."""
        out = ctypes.c_void_p()
        check(lib.wasmtime_module_deserialize(engine._ptr, address, size, ctypes.addressof(out)))
        return cls._adopt(out.value or 0)

    def serialize(self) -> bytes:
        out = ByteVec()
        check(lib.wasmtime_module_serialize(self._ptr, ctypes.addressof(out)))
        return out.take()

    def __del__(self) -> None:
        if self._ptr and not sys.is_finalizing():
            lib.wasmtime_module_delete(self._ptr)
            self._ptr = 0
