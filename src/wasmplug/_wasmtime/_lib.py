"""The wheel's libwasmtime, and its C functions declared on first use.

The `wasmtime` wheel is the engine and the dependency; its Python package is
not imported (its `__init__` declares ~760 prototypes eagerly, ~40 ms of a new
process). `find_spec` locates the package without running it, and the shared
library it ships is loaded from there. `lib.<name>` is a ctypes function made
the first time it is asked for, from the signature below (written from the C
API headers of the wheel's version: wasm.h, wasmtime/*.h, wasi.h); every
pointer is passed and returned as a plain integer address.

`lib.<name>` releases the GIL during the call (a call may run guest code or
wait for another thread); `lib_holding_gil.<name>` keeps it, for short calls
that never call back into Python.
"""

from __future__ import annotations

import ctypes
import importlib.util
import os
import sys
from typing import Any

_P, _Z, _B, _S = ctypes.c_void_p, ctypes.c_size_t, ctypes.c_bool, ctypes.c_char_p
_U8, _U64, _I64 = ctypes.c_uint8, ctypes.c_uint64, ctypes.c_int64

#: name -> (result, argument types). Pointers of every kind are `_P`.
SIGNATURES: dict[str, tuple[Any, tuple[Any, ...]]] = {
    # config.h, engine.h
    "wasm_config_new": (_P, ()),
    "wasm_config_delete": (None, (_P,)),
    "wasmtime_config_epoch_interruption_set": (None, (_P, _B)),
    "wasmtime_config_consume_fuel_set": (None, (_P, _B)),
    "wasmtime_config_memory_may_move_set": (None, (_P, _B)),
    "wasmtime_config_wasm_tail_call_set": (None, (_P, _B)),
    "wasmtime_config_wasm_function_references_set": (None, (_P, _B)),
    "wasmtime_config_wasm_gc_set": (None, (_P, _B)),
    "wasmtime_config_max_wasm_stack_set": (None, (_P, _Z)),
    "wasm_engine_new": (_P, ()),
    "wasm_engine_new_with_config": (_P, (_P,)),
    "wasm_engine_delete": (None, (_P,)),
    "wasmtime_engine_increment_epoch": (None, (_P,)),
    # module.h, wat.h, wasm.h byte vectors
    "wasmtime_module_new": (_P, (_P, _S, _Z, _P)),
    "wasmtime_module_validate": (_P, (_P, _S, _Z)),
    "wasmtime_module_deserialize": (_P, (_P, _P, _Z, _P)),
    "wasmtime_module_deserialize_file": (_P, (_P, _S, _P)),
    "wasmtime_module_serialize": (_P, (_P, _P)),
    "wasmtime_module_delete": (None, (_P,)),
    "wasmtime_wat2wasm": (_P, (_S, _Z, _P)),
    "wasm_byte_vec_delete": (None, (_P,)),
    # store.h
    "wasmtime_store_new": (_P, (_P, _P, _P)),
    "wasmtime_store_context": (_P, (_P,)),
    "wasmtime_store_delete": (None, (_P,)),
    "wasmtime_store_limiter": (None, (_P, _I64, _I64, _I64, _I64, _I64)),
    "wasmtime_store_epoch_deadline_callback": (None, (_P, _P, _P, _P)),
    "wasmtime_context_set_fuel": (_P, (_P, _U64)),
    "wasmtime_context_get_fuel": (_P, (_P, _P)),
    "wasmtime_context_set_wasi": (_P, (_P, _P)),
    "wasmtime_context_set_epoch_deadline": (None, (_P, _U64)),
    # linker.h
    "wasmtime_linker_new": (_P, (_P,)),
    "wasmtime_linker_clone": (_P, (_P,)),
    "wasmtime_linker_delete": (None, (_P,)),
    "wasmtime_linker_allow_shadowing": (None, (_P, _B)),
    "wasmtime_linker_define_wasi": (_P, (_P,)),
    "wasmtime_linker_define_func_unchecked": (_P, (_P, _S, _Z, _S, _Z, _P, _P, _P, _P)),
    "wasmtime_linker_define_instance": (_P, (_P, _P, _S, _Z, _P)),
    "wasmtime_linker_define": (_P, (_P, _P, _S, _Z, _S, _Z, _P)),
    "wasmtime_linker_module": (_P, (_P, _P, _S, _Z, _P)),
    "wasmtime_linker_instantiate": (_P, (_P, _P, _P, _P, _P)),
    # instance.h, func.h, wasm.h function types
    "wasmtime_instance_new": (_P, (_P, _P, _P, _Z, _P, _P)),
    "wasmtime_instance_export_get": (_B, (_P, _P, _S, _Z, _P)),
    "wasmtime_instance_export_nth": (_B, (_P, _P, _Z, _P, _P, _P)),
    "wasmtime_func_new_unchecked": (None, (_P, _P, _P, _P, _P, _P)),
    "wasmtime_func_call_unchecked": (_P, (_P, _P, _P, _Z, _P)),
    "wasmtime_func_type": (_P, (_P, _P)),
    "wasmtime_caller_context": (_P, (_P,)),
    "wasmtime_caller_export_get": (_B, (_P, _S, _Z, _P)),
    "wasm_valtype_new": (_P, (_U8,)),
    "wasm_valtype_kind": (_U8, (_P,)),
    "wasm_valtype_vec_new": (None, (_P, _Z, _P)),
    "wasm_functype_new": (_P, (_P, _P)),
    "wasm_functype_params": (_P, (_P,)),
    "wasm_functype_results": (_P, (_P,)),
    "wasm_functype_delete": (None, (_P,)),
    # memory.h, global.h
    "wasmtime_memory_data": (_P, (_P, _P)),
    "wasmtime_memory_data_size": (_Z, (_P, _P)),
    "wasmtime_memory_grow": (_P, (_P, _P, _U64, _P)),
    "wasmtime_global_set": (_P, (_P, _P, _P)),
    # error.h, trap.h
    "wasmtime_error_new": (_P, (_S,)),
    "wasmtime_error_message": (None, (_P, _P)),
    "wasmtime_error_exit_status": (_B, (_P, _P)),
    "wasmtime_error_delete": (None, (_P,)),
    "wasmtime_trap_new": (_P, (_S, _Z)),
    "wasmtime_trap_code": (_B, (_P, _P)),
    "wasm_trap_message": (None, (_P, _P)),
    "wasm_trap_delete": (None, (_P,)),
    # wasi.h
    "wasi_config_new": (_P, ()),
    "wasi_config_delete": (None, (_P,)),
    "wasi_config_set_argv": (_B, (_P, _Z, _P)),
    "wasi_config_set_env": (_B, (_P, _Z, _P, _P)),
    "wasi_config_inherit_stdout": (None, (_P,)),
    "wasi_config_inherit_stderr": (None, (_P,)),
    "wasi_config_set_stdout_custom": (None, (_P, _P, _P, _P)),
    "wasi_config_set_stderr_custom": (None, (_P, _P, _P, _P)),
    "wasi_config_preopen_dir": (_B, (_P, _S, _S, _B)),
}

_MACHINES = {"amd64": "x86_64", "x86_64": "x86_64", "arm64": "aarch64", "aarch64": "aarch64"}
_LIBRARY_NAMES = {"linux": "_libwasmtime.so", "darwin": "_libwasmtime.dylib", "win32": "_wasmtime.dll"}


def package_dir() -> str:
    """The installed `wasmtime` package's folder, found without importing it."""
    spec = importlib.util.find_spec("wasmtime")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("the wasmtime package is not installed: pip install wasmtime")
    return str(next(iter(spec.submodule_search_locations)))


def _library_path() -> str:
    platform = "linux" if sys.platform.startswith("linux") else sys.platform
    machine = _MACHINES.get(os.uname().machine.lower() if hasattr(os, "uname")
                            else os.environ.get("PROCESSOR_ARCHITECTURE", "").lower(), "")
    if platform not in _LIBRARY_NAMES or not machine:
        raise ImportError(f"wasmtime ships no library for {sys.platform} on this machine")
    return os.path.join(package_dir(), f"{platform}-{machine}", _LIBRARY_NAMES[platform])


class _Prototypes:
    """`table.<name>`: the C function `name`, declared on first access."""

    def __init__(self, functype: Any) -> None:
        self._functype = functype
        self._dll: Any = None

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            restype, argtypes = SIGNATURES[name]
        except KeyError:
            raise AttributeError(f"no declared C function {name!r}") from None
        if self._dll is None:
            self._dll = dll()
        function = self._functype(restype, *argtypes)((name, self._dll))
        setattr(self, name, function)  # later accesses are a plain attribute lookup
        return function


_loaded: list[Any] = []


def dll() -> Any:
    """The loaded library (loaded on first use)."""
    if not _loaded:
        _loaded.append(ctypes.CDLL(_library_path()))
    return _loaded[0]


lib: Any = _Prototypes(ctypes.CFUNCTYPE)
lib_holding_gil: Any = _Prototypes(ctypes.PYFUNCTYPE)


# Layouts (wasmtime/extern.h, val.h): an extern is a kind byte and, at offset 8,
# the item (a func 16 bytes, a memory or global 24); a value the same with 24
# bytes of payload; a raw value is a 16-byte slot.
EXTERN_SIZE = 32
VAL_SIZE = 32
PAYLOAD = 8
SLOT = 16
EXTERN_FUNC, EXTERN_GLOBAL, EXTERN_TABLE, EXTERN_MEMORY = 0, 1, 2, 3
KIND_I32, KIND_I64, KIND_F32, KIND_F64 = 0, 1, 2, 3


def words(size: int) -> Any:
    """A zeroed buffer of `size` bytes, 8-byte aligned (as every struct above needs)."""
    return (ctypes.c_uint64 * ((size + 7) // 8))()


def kind_of(buf: Any) -> int:
    """The kind byte at the start of an extern or value buffer (`words`)."""
    kind: int = ctypes.c_uint8.from_address(ctypes.addressof(buf)).value
    return kind


class ByteVec(ctypes.Structure):
    """wasm_byte_vec_t (and, with `data` read as pointers, wasm_valtype_vec_t)."""

    _fields_ = [("size", ctypes.c_size_t), ("data", ctypes.c_void_p)]

    def take(self) -> bytes:
        """The bytes, copied out; the vector is freed."""
        try:
            return ctypes.string_at(self.data, self.size) if self.size else b""
        finally:
            lib.wasm_byte_vec_delete(ctypes.addressof(self))
