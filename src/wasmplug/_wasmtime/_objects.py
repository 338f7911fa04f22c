"""Values, types and the items of a store: functions, memories, globals, instances.

An item (`Func`, `Memory`, `Global`, `Table`) is the `wasmtime_extern_t` that
names it in its store: plain bytes that own nothing. Every operation takes the
store (or a host function's `Caller`) it belongs to; wasmtime checks that the
item is from that store. `Func` calls take and return Python numbers; host
functions (`Func(store, ty, fn)`, `Linker.define_func`) get and return them.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from ._errors import WasmtimeError, raise_failure, trap_for
from ._held import RELEASE, hold
from ._lib import (
    EXTERN_FUNC,
    EXTERN_GLOBAL,
    EXTERN_MEMORY,
    EXTERN_SIZE,
    EXTERN_TABLE,
    KIND_F32,
    KIND_F64,
    KIND_I32,
    KIND_I64,
    PAYLOAD,
    SLOT,
    VAL_SIZE,
    ByteVec,
    kind_of,
    lib,
    words,
)

_NUMBER_CTYPES: dict[int, Any] = {KIND_I32: ctypes.c_int32, KIND_I64: ctypes.c_int64,
                                  KIND_F32: ctypes.c_float, KIND_F64: ctypes.c_double}


class Storelike(Protocol):
    def _context(self) -> int: ...


class ValType:
    """A number type (the only kinds the host exchanges with Wasm)."""

    def __init__(self, kind: int) -> None:
        self.kind = kind

    @classmethod
    def i32(cls) -> ValType:
        return cls(KIND_I32)

    @classmethod
    def i64(cls) -> ValType:
        return cls(KIND_I64)

    @classmethod
    def f32(cls) -> ValType:
        return cls(KIND_F32)

    @classmethod
    def f64(cls) -> ValType:
        return cls(KIND_F64)


class FuncType:
    """Parameter and result types; the C `wasm_functype_t` is made for each use."""

    def __init__(self, params: Sequence[ValType], results: Sequence[ValType]) -> None:
        self.params = list(params)
        self.results = list(results)

    def _new(self) -> int:
        """A new `wasm_functype_t*` (the caller deletes it)."""
        vectors = []
        for types in (self.params, self.results):
            items = (ctypes.c_void_p * max(len(types), 1))(*[lib.wasm_valtype_new(t.kind) for t in types])
            vector = ByteVec()
            lib.wasm_valtype_vec_new(ctypes.addressof(vector), len(types), ctypes.addressof(items))
            vectors.append(vector)
        ptr: int = lib.wasm_functype_new(ctypes.addressof(vectors[0]), ctypes.addressof(vectors[1]))
        return ptr


def new_functype(params: Sequence[int], results: Sequence[int]) -> int:
    """A new `wasm_functype_t*` for these value kinds (the caller deletes it)."""
    return FuncType([ValType(k) for k in params], [ValType(k) for k in results])._new()


class Val:
    """A typed number (for `Global.set_value`)."""

    def __init__(self, kind: int, value: int | float) -> None:
        self.kind = kind
        self.value = value

    @classmethod
    def i64(cls, value: int) -> Val:
        return cls(KIND_I64, value)


class Extern:
    """An item of a store (a `wasmtime_extern_t`)."""

    __slots__ = ("__weakref__", "_addr", "_buf")

    def __init__(self, buf: Any) -> None:
        self._buf = buf
        self._addr = ctypes.addressof(buf) + PAYLOAD  # the item itself (wasmtime_func_t, ...)

    def _extern(self) -> int:
        """The address of the whole extern (kind and item)."""
        return ctypes.addressof(self._buf)


def new_extern() -> Any:
    return words(EXTERN_SIZE)


def wrap(buf: Any) -> Extern:
    """The Python object for the extern in `buf`."""
    kind = kind_of(buf)
    cls = _BY_KIND.get(kind)
    if cls is None:
        return Extern(buf)
    return cls(buf)


def _kinds(vector_ptr: int) -> list[int]:
    vector = ByteVec.from_address(vector_ptr)
    items = (ctypes.c_void_p * vector.size).from_address(vector.data) if vector.size else []
    return [lib.wasm_valtype_kind(item) for item in items]


class Func(Extern):
    """A function; `func(store, *numbers)` calls it."""

    __slots__ = ("_signature",)

    def __init__(self, store_or_buf: Any, ty: FuncType | None = None,
                 func: Callable[..., Any] | None = None, access_caller: bool = False) -> None:
        self._signature: tuple[list[int], list[int]] | None = None
        if ty is None:  # wrapping an extern
            super().__init__(store_or_buf)
            return
        assert func is not None
        buf = new_extern()
        buf[0] = EXTERN_FUNC  # (the kind byte: the first word's lowest byte)
        super().__init__(buf)
        params, results = [t.kind for t in ty.params], [t.kind for t in ty.results]
        callback = host_callback(func, params, results, access_caller)
        functype = ty._new()
        try:
            lib.wasmtime_func_new_unchecked(store_or_buf._context(), functype, _address(callback),
                                            hold(callback), RELEASE, self._addr)
        finally:
            lib.wasm_functype_delete(functype)

    def type_kinds(self, store: Storelike) -> tuple[list[int], list[int]]:
        """(parameter kinds, result kinds)."""
        if self._signature is None:
            ty = lib.wasmtime_func_type(store._context(), self._addr)
            try:
                self._signature = (_kinds(lib.wasm_functype_params(ty)),
                                   _kinds(lib.wasm_functype_results(ty)))
            finally:
                lib.wasm_functype_delete(ty)
        return self._signature

    def __call__(self, store: Storelike, *args: int | float) -> Any:
        params, results = self.type_kinds(store)
        if len(args) != len(params):
            raise TypeError(f"expected {len(params)} arguments, got {len(args)}")
        if any(k not in _NUMBER_CTYPES for k in (*params, *results)):
            raise WasmtimeError("only functions of i32, i64, f32 and f64 can be called from Python")
        count = max(len(params), len(results), 1)
        slots = words(SLOT * count)
        base = ctypes.addressof(slots)
        for i, (kind, value) in enumerate(zip(params, args, strict=True)):
            _NUMBER_CTYPES[kind].from_address(base + i * SLOT).value = value
        trap = ctypes.c_void_p()
        error = lib.wasmtime_func_call_unchecked(store._context(), self._addr, base,
                                                 count, ctypes.addressof(trap))
        if error or trap.value:
            raise_failure(error, trap.value)
        values = [_NUMBER_CTYPES[k].from_address(base + i * SLOT).value for i, k in enumerate(results)]
        if not values:
            return None
        return values[0] if len(values) == 1 else values


class Memory(Extern):
    """A linear memory."""

    __slots__ = ()

    def data_ptr(self, store: Storelike) -> int:
        """The memory's address now."""
        address: int = lib.wasmtime_memory_data(store._context(), self._addr) or 0
        return address

    def data_len(self, store: Storelike) -> int:
        size: int = lib.wasmtime_memory_data_size(store._context(), self._addr)
        return size

    def size(self, store: Storelike) -> int:
        """Pages (64 KiB)."""
        return self.data_len(store) // 65536

    def grow(self, store: Storelike, delta: int) -> int:
        """Add `delta` pages; the previous size in pages. WasmtimeError if refused."""
        if delta < 0:
            raise WasmtimeError("a memory cannot shrink")
        previous = ctypes.c_uint64()
        error = lib.wasmtime_memory_grow(store._context(), self._addr, delta, ctypes.addressof(previous))
        if error:
            raise_failure(error, None)
        return previous.value

    def _range(self, store: Storelike, start: int, stop: int) -> tuple[int, int]:
        ctx = store._context()
        size = lib.wasmtime_memory_data_size(ctx, self._addr)
        if start < 0 or stop < start or stop > size:
            raise IndexError(f"memory range {start}..{stop} is out of bounds (size {size})")
        return lib.wasmtime_memory_data(ctx, self._addr) or 0, size

    def read(self, store: Storelike, start: int = 0, stop: int | None = None) -> bytearray:
        if stop is None:
            stop = self.data_len(store)
        base, _ = self._range(store, start, stop)
        return bytearray(ctypes.string_at(base + start, stop - start))

    def write(self, store: Storelike, value: bytes | bytearray, start: int = 0) -> int:
        base, _ = self._range(store, start, start + len(value))
        ctypes.memmove(base + start, bytes(value), len(value))
        return len(value)


class Global(Extern):
    """A global variable of a number type (the core sets them only)."""

    __slots__ = ()

    def set_value(self, store: Storelike, val: Val) -> None:
        raw = words(VAL_SIZE)
        raw[0] = val.kind
        _NUMBER_CTYPES[val.kind].from_address(ctypes.addressof(raw) + PAYLOAD).value = val.value
        error = lib.wasmtime_global_set(store._context(), self._addr, ctypes.addressof(raw))
        if error:
            raise_failure(error, None)


class Table(Extern):
    """A table (only passed along: linked between modules)."""

    __slots__ = ()


_BY_KIND: dict[int, type[Extern]] = {EXTERN_FUNC: Func, EXTERN_MEMORY: Memory,
                                     EXTERN_GLOBAL: Global, EXTERN_TABLE: Table}


class Instance:
    """An instance of a module in a store (a `wasmtime_instance_t`)."""

    __slots__ = ("__weakref__", "_addr", "_buf")

    def __init__(self, store: Storelike | None = None, module: Any = None,
                 imports: Sequence[Extern] = ()) -> None:
        self._buf = words(16)
        self._addr = ctypes.addressof(self._buf)
        if store is None:
            return
        items = words(EXTERN_SIZE * max(len(imports), 1))
        for i, item in enumerate(imports):
            ctypes.memmove(ctypes.addressof(items) + i * EXTERN_SIZE, item._extern(), EXTERN_SIZE)
        trap = ctypes.c_void_p()
        error = lib.wasmtime_instance_new(store._context(), module._ptr, ctypes.addressof(items),
                                          len(imports), self._addr, ctypes.addressof(trap))
        if error or trap.value:
            raise_failure(error, trap.value)

    def exports(self, store: Storelike) -> dict[str, Extern]:
        """Every export, by name."""
        ctx = store._context()
        found: dict[str, Extern] = {}
        name, length = ctypes.c_void_p(), ctypes.c_size_t()
        index = 0
        while True:
            item = new_extern()
            if not lib.wasmtime_instance_export_nth(ctx, self._addr, index, ctypes.addressof(name),
                                                    ctypes.addressof(length), ctypes.addressof(item)):
                return found
            found[ctypes.string_at(name.value or 0, length.value).decode("utf-8")] = wrap(item)
            index += 1

    def get(self, store: Storelike, name: str) -> Extern | None:
        """One export (None if absent)."""
        item = new_extern()
        key = name.encode("utf-8")
        if not lib.wasmtime_instance_export_get(store._context(), self._addr, key, len(key),
                                                ctypes.addressof(item)):
            return None
        return wrap(item)


class Caller:
    """The calling instance, inside a host function (valid only during the call)."""

    def __init__(self, ptr: int) -> None:
        self._ptr = ptr

    def _context(self) -> int:
        if not self._ptr:
            raise WasmtimeError("a Caller is valid only while its host function runs")
        ctx: int = lib.wasmtime_caller_context(self._ptr)
        return ctx

    def get(self, name: str) -> Extern | None:
        """The caller's export `name` (None if absent)."""
        if not self._ptr:
            raise WasmtimeError("a Caller is valid only while its host function runs")
        item = new_extern()
        key = name.encode("utf-8")
        if not lib.wasmtime_caller_export_get(self._ptr, key, len(key), ctypes.addressof(item)):
            return None
        return wrap(item)


# wasm_trap_t* (*)(void* env, wasmtime_caller_t*, wasmtime_val_raw_t* args_and_results, size_t)
RawCallback = ctypes.CFUNCTYPE(ctypes.c_size_t, ctypes.c_void_p, ctypes.c_void_p,
                               ctypes.c_void_p, ctypes.c_size_t)


def _address(callback: Any) -> int:
    return ctypes.cast(callback, ctypes.c_void_p).value or 0


def host_callback(func: Callable[..., Any], params: Sequence[int], results: Sequence[int],
                  access_caller: bool) -> Any:
    """The native callback calling `func` with numbers (a `Caller` first if asked)."""
    if any(k not in _NUMBER_CTYPES for k in (*params, *results)):
        raise WasmtimeError("host functions take and return i32, i64, f32 and f64 only")
    readers = [_NUMBER_CTYPES[k].from_address for k in params]
    writers = [_NUMBER_CTYPES[k].from_address for k in results]

    def call(env: int, caller_ptr: int, args: int, n: int) -> int:
        caller = Caller(caller_ptr) if access_caller else None
        try:
            values = [read(args + i * SLOT).value for i, read in enumerate(readers)]
            out = func(caller, *values) if caller is not None else func(*values)
            if not writers:
                if out is not None:
                    raise WasmtimeError("callback produced results when it shouldn't")
            elif len(writers) == 1:
                writers[0](args).value = out
            else:
                if len(out) != len(writers):
                    raise WasmtimeError("callback produced wrong number of results")
                for i, (write, value) in enumerate(zip(writers, out, strict=True)):
                    write(args + i * SLOT).value = value
        except BaseException as exc:
            return trap_for(exc)
        finally:
            if caller is not None:
                caller._ptr = 0
        return 0
    return RawCallback(call)
