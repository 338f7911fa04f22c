"""The hot path: how Python calls Wasm functions and Wasm calls Python.

Every low-level trick lives in this module and nowhere else. Two
implementations share one interface:

- `RawCallPath` (the default) calls libwasmtime's C functions directly
  (`_wasmtime._lib`) with plain integer addresses:
  `wasmtime_func_call_unchecked` for calls (no value boxing, ~0.5 µs) and
  `wasmtime_linker_define_func_unchecked` for host functions (~0.35 µs per
  round trip), with argument buffers and callbacks specialised per signature.
- `PublicCallPath` does the same through the general methods of `_wasmtime`
  (`Func.__call__`, `Linker.define_func`, `Instance.exports`). It is the
  reference the tests compare against (`WASMPLUG_CALL_PATH=public`).

Both raise the same exceptions: `Trap` for a trap, `WasmtimeError` (or
`ExitTrap`) for other failures, and the original Python exception when a host
function raised one.

The epoch-deadline callback (which lets a timeout or cancel interrupt one
plug-in without disturbing the others on the same engine) has no public
equivalent and is always installed through the raw API (`install_interrupt_check`).

The GIL: a ctypes call normally releases it, and with two busy threads every
release is a hand-off (a futex wake, often a context switch) that costs more
than a short C call itself. So only calls that may run for long release it: a
plug-in's exports (untrusted code, timeouts, other threads keep running) and
large copies. The kernel's own functions (our code: bounded work, no calls back
into Python) keep it (`RawCaller`), and so do small copies (kernel.py).
"""

from __future__ import annotations

import ctypes
import os
import threading
import weakref
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from . import _wasmtime as wasmtime
from ._wasmtime import _errors
from ._wasmtime._lib import EXTERN_FUNC, PAYLOAD, SLOT, kind_of, lib, lib_holding_gil
from ._wasmtime._objects import new_extern, new_functype

HostImpl = Callable[..., Any]
Invoker = Callable[..., Any]

I32, I64, F32, F64 = "i32", "i64", "f32", "f64"
_VALTYPES = {
    I32: wasmtime.ValType.i32,
    I64: wasmtime.ValType.i64,
    F32: wasmtime.ValType.f32,
    F64: wasmtime.ValType.f64,
}


def functype(params: Sequence[str], results: Sequence[str]) -> wasmtime.FuncType:
    """A new wasmtime FuncType (not shareable: wasmtime ties it to the first engine using it)."""
    return wasmtime.FuncType([_VALTYPES[p]() for p in params], [_VALTYPES[r]() for r in results])


class CallPath(Protocol):
    name: str

    def bind(self, store: wasmtime.Store, func: wasmtime.Func,
             params: Sequence[str], results: Sequence[str]) -> Invoker:
        """A callable invoking `func` with Python numbers; returns the result or None."""
        ...

    def define(self, linker: wasmtime.Linker, module: str, name: str,
               params: Sequence[str], results: Sequence[str], impl: HostImpl) -> None:
        """Define a host function: `impl(*numbers) -> number | None`."""
        ...

    def memory_base(self, store: wasmtime.Store, memory: wasmtime.Memory) -> tuple[int, int]:
        """(address, size in bytes) of a linear memory, valid until it grows."""
        ...

    def export(self, store: wasmtime.Store, instance: wasmtime.Instance, name: str) -> Any:
        """One export of an instance (None if absent), without wrapping the others."""
        ...

    def caller(self, store: wasmtime.Store, instance: wasmtime.Instance) -> Caller:
        """Calls exports of `instance` by name (for the kernel's host-side entry points)."""
        ...

    def clone_linker(self, template: wasmtime.Linker,
                     rebuild: Callable[[], wasmtime.Linker]) -> wasmtime.Linker:
        """A copy of `template` (`rebuild()` makes one from scratch)."""
        ...


class Caller(Protocol):
    """Calls an instance's exports by name; one per (store, instance)."""

    def i64_i64(self, name: str, arg: int) -> int: ...
    def i64_void(self, name: str, arg: int) -> None: ...
    def bound_i64_i64(self, name: str) -> Callable[[int], int]:
        """`i64_i64(name, ·)` with the export looked up once (for the per-call entry points)."""
        ...
    def void_i32(self, name: str) -> int: ...
    def void_void(self, name: str) -> None: ...


# ------------------------------------------------------------------ raw path

_vp, _sz = ctypes.c_void_p, ctypes.c_size_t
_KINDS = {I32: 0, I64: 1, F32: 2, F64: 3}
_RawCallback = ctypes.CFUNCTYPE(_sz, _vp, _vp, _vp, _sz)
_SLOT = SLOT  # 16 bytes per argument/result
_CTYPE: dict[str, Any] = {I32: ctypes.c_int32, I64: ctypes.c_int64, F32: ctypes.c_float, F64: ctypes.c_double}
_i64_at = ctypes.c_int64.from_address
_i32_at = ctypes.c_int32.from_address
_trap_for = _errors.trap_for


def _address(pointer: Any) -> int:
    return ctypes.cast(pointer, ctypes.c_void_p).value or 0


def _raise_failure(error: int | None, trap_slot: ctypes.c_void_p) -> None:
    trap = trap_slot.value
    trap_slot.value = None
    _errors.raise_failure(error, trap)


_BUFFERS = [ctypes.c_uint64 * (2 * n) for n in range(17)]  # 16-byte slots, 8-byte aligned


class RawCaller:
    """One argument buffer for every call; function addresses looked up on first use.

    Calls through one caller never nest (kernel functions do not call back
    into Python), so sharing the buffer is safe. They keep the GIL (the kernel's
    functions are short and bounded; an epoch check inside one runs its Python
    callback on this thread, which holds the GIL already).
    """

    def __init__(self, store: wasmtime.Store, instance: wasmtime.Instance) -> None:
        self._keep: list[Any] = [store, instance]
        self._ctx = store._context()
        self._instance = instance._addr
        self._buf = _BUFFERS[2]()
        self._bufa = ctypes.addressof(self._buf)
        self._slot0 = ctypes.c_int64.from_address(self._bufa)
        self._slot1 = ctypes.c_int64.from_address(self._bufa + _SLOT)
        self._slot32 = ctypes.c_int32.from_address(self._bufa)
        self._trap = ctypes.c_void_p()
        self._trapa = ctypes.addressof(self._trap)
        self._funcs: dict[str, int] = {}

    def _func(self, name: str) -> int:
        item = new_extern()
        key = name.encode()
        if (not lib.wasmtime_instance_export_get(self._ctx, self._instance, key, len(key),
                                                 ctypes.addressof(item))
                or kind_of(item) != EXTERN_FUNC):
            raise KeyError(f"the instance exports no function {name!r}")
        self._keep.append(item)
        address = self._funcs[name] = ctypes.addressof(item) + PAYLOAD
        return address

    def _call(self, name: str, slots: int) -> None:
        fn = self._funcs.get(name) or self._func(name)
        error = lib_holding_gil.wasmtime_func_call_unchecked(self._ctx, fn, self._bufa, slots,
                                                             self._trapa)
        if error or self._trap.value:
            _raise_failure(error, self._trap)

    def i64_i64(self, name: str, arg: int) -> int:
        self._slot0.value = arg
        self._call(name, 1)
        return self._slot0.value

    def i64_void(self, name: str, arg: int) -> None:
        self._slot0.value = arg
        self._call(name, 1)

    def bound_i64_i64(self, name: str) -> Callable[[int], int]:
        fn = self._funcs.get(name) or self._func(name)
        ctx, bufa, trapa, trap, slot = self._ctx, self._bufa, self._trapa, self._trap, self._slot0
        call = lib_holding_gil.wasmtime_func_call_unchecked

        def i64_i64(arg: int) -> int:
            slot.value = arg
            error = call(ctx, fn, bufa, 1, trapa)
            if error or trap.value:
                _raise_failure(error, trap)
            result: int = slot.value
            return result
        return i64_i64

    def void_i32(self, name: str) -> int:
        self._call(name, 1)
        return self._slot32.value

    def void_void(self, name: str) -> None:
        self._call(name, 1)


class RawCallPath:
    name = "raw"

    def caller(self, store: wasmtime.Store, instance: wasmtime.Instance) -> Caller:
        return RawCaller(store, instance)

    def clone_linker(self, template: wasmtime.Linker,
                     rebuild: Callable[[], wasmtime.Linker]) -> wasmtime.Linker:
        return template.clone()

    def export(self, store: wasmtime.Store, instance: wasmtime.Instance, name: str) -> Any:
        return instance.get(store, name)

    def bind(self, store: wasmtime.Store, func: wasmtime.Func,
             params: Sequence[str], results: Sequence[str]) -> Invoker:
        ctx = store._context()
        slots = max(len(params), len(results), 1)
        buf = (_BUFFERS[slots] if slots < len(_BUFFERS) else ctypes.c_uint64 * (2 * slots))()
        trap = ctypes.c_void_p()
        fn, bufa, trapa = func._addr, ctypes.addressof(buf), ctypes.addressof(trap)
        call = lib.wasmtime_func_call_unchecked
        # Keep buffers alive as long as the invoker.
        keep = (buf, trap, func, store)

        if not params and not results:
            def invoke0() -> None:
                error = call(ctx, fn, bufa, 1, trapa)
                if error or trap.value:
                    _raise_failure(error, trap)
            invoke0.keep = keep  # type: ignore[attr-defined]
            return invoke0
        if not params and results in ([I32], (I32,)):
            result = ctypes.c_int32.from_address(bufa)

            def invoke_r32() -> int:
                error = call(ctx, fn, bufa, 1, trapa)
                if error or trap.value:
                    _raise_failure(error, trap)
                return result.value
            invoke_r32.keep = keep  # type: ignore[attr-defined]
            return invoke_r32
        if tuple(params) == (I64,) and tuple(results) in ((I64,), ()):
            slot = ctypes.c_int64.from_address(bufa)
            has_result = bool(results)

            def invoke_64(arg: int) -> int | None:
                slot.value = arg
                error = call(ctx, fn, bufa, 1, trapa)
                if error or trap.value:
                    _raise_failure(error, trap)
                return slot.value if has_result else None
            invoke_64.keep = keep  # type: ignore[attr-defined]
            return invoke_64

        arg_slots = [_CTYPE[p].from_address(bufa + i * _SLOT) for i, p in enumerate(params)]
        res_slots = [_CTYPE[r].from_address(bufa + i * _SLOT) for i, r in enumerate(results)]

        def invoke(*args: Any) -> Any:
            if len(args) != len(arg_slots):
                raise TypeError(f"expected {len(arg_slots)} arguments, got {len(args)}")
            for s, a in zip(arg_slots, args, strict=True):
                s.value = a
            error = call(ctx, fn, bufa, slots, trapa)
            if error or trap.value:
                _raise_failure(error, trap)
            if not res_slots:
                return None
            if len(res_slots) == 1:
                return res_slots[0].value
            return [s.value for s in res_slots]
        invoke.keep = keep  # type: ignore[attr-defined]
        return invoke

    def define(self, linker: wasmtime.Linker, module: str, name: str,
               params: Sequence[str], results: Sequence[str], impl: HostImpl) -> None:
        token, callback = _callbacks.acquire(impl, tuple(params), tuple(results))
        # On failure wasmtime drops the definition, and so releases the token itself.
        linker.define_raw(module, name, new_functype([_KINDS[p] for p in params],
                                                     [_KINDS[r] for r in results]),
                          _address(callback), token, _address(_release_callback), own_type=True)

    def memory_base(self, store: wasmtime.Store, memory: wasmtime.Memory) -> tuple[int, int]:
        ctx = store._context()
        ref = memory._addr
        return lib.wasmtime_memory_data(ctx, ref) or 0, lib.wasmtime_memory_data_size(ctx, ref)


class _Callbacks:
    """Native callbacks of host functions, alive while any definition uses them.

    Each definition in a linker (and every store instance made from it)
    shares one callback; wasmtime calls the definition's finalizer when the
    last user is gone, and the callback is dropped when its count reaches 0.
    """

    def __init__(self) -> None:
        self._by_key: dict[tuple[int, tuple[str, ...], tuple[str, ...]], int] = {}
        self._entries: dict[int, list[Any]] = {}  # token -> [key, impl, callback, count]
        self._tokens = iter(range(1, 2**62))
        self._lock = threading.RLock()  # a finalizer may run inside define, on this thread

    def acquire(self, impl: HostImpl, params: tuple[str, ...],
                results: tuple[str, ...]) -> tuple[int, Any]:
        key = (id(impl), params, results)
        with self._lock:
            token = self._by_key.get(key)
            entry = self._entries.get(token) if token is not None else None
            if entry is None or entry[1] is not impl:
                token = next(self._tokens)
                entry = [key, impl, _RawCallback(_make_raw_callback(impl, params, results)), 0]
                self._entries[token] = entry
                self._by_key[key] = token
            assert token is not None
            entry[3] += 1
            return token, entry[2]

    def release(self, token: int) -> None:
        with self._lock:
            entry = self._entries.get(token)
            if entry is None:
                return
            entry[3] -= 1
            if entry[3] == 0:
                del self._entries[token]
                if self._by_key.get(entry[0]) == token:
                    del self._by_key[entry[0]]

    def __len__(self) -> int:
        return len(self._entries)


_callbacks = _Callbacks()


def hold_host_callback(impl: HostImpl, params: Sequence[str],
                       results: Sequence[str]) -> tuple[int, Any]:
    """The native callback of a host function, held until `release_host_callback(token)`.

    Returns (token, callback); linkers defining the same function share it.
    """
    return _callbacks.acquire(impl, tuple(params), tuple(results))


def release_host_callback(token: int) -> None:
    _callbacks.release(token)


@ctypes.CFUNCTYPE(None, _vp)  # type: ignore[untyped-decorator]
def _release_callback(token: int, _registry: _Callbacks = _callbacks) -> None:
    _registry.release(token)  # the default argument survives interpreter shutdown


def _make_raw_callback(impl: HostImpl, params: Sequence[str],
                       results: Sequence[str]) -> Callable[[Any, Any, int, int], int]:
    shape = (tuple(params), tuple(results))
    if shape == ((I64,), (I64,)):
        def cb_64_64(env: Any, caller: Any, args: int, n: int) -> int:
            slot = _i64_at(args)
            try:
                slot.value = impl(slot.value)
            except BaseException as exc:
                return _trap_for(exc)
            return 0
        return cb_64_64
    if shape == ((I64,), ()):
        def cb_64(env: Any, caller: Any, args: int, n: int) -> int:
            try:
                impl(_i64_at(args).value)
            except BaseException as exc:
                return _trap_for(exc)
            return 0
        return cb_64
    if shape == ((I64, I64), ()):
        def cb_64_64_void(env: Any, caller: Any, args: int, n: int) -> int:
            try:
                impl(_i64_at(args).value, _i64_at(args + _SLOT).value)
            except BaseException as exc:
                return _trap_for(exc)
            return 0
        return cb_64_64_void
    if shape == ((I64, I64), (I64,)):  # the kernel's config_get and var_get
        def cb_64x2_64(env: Any, caller: Any, args: int, n: int) -> int:
            slot = _i64_at(args)
            try:
                slot.value = impl(slot.value, _i64_at(args + _SLOT).value)
            except BaseException as exc:
                return _trap_for(exc)
            return 0
        return cb_64x2_64
    if shape == ((I64, I64, I64, I64), ()):  # the kernel's var_set
        def cb_64x4_void(env: Any, caller: Any, args: int, n: int) -> int:
            try:
                impl(_i64_at(args).value, _i64_at(args + _SLOT).value,
                     _i64_at(args + 2 * _SLOT).value, _i64_at(args + 3 * _SLOT).value)
            except BaseException as exc:
                return _trap_for(exc)
            return 0
        return cb_64x4_void

    readers = [_CTYPE[p].from_address for p in params]
    writers = [_CTYPE[r].from_address for r in results]

    def cb_generic(env: Any, caller: Any, args: int, n: int) -> int:
        try:
            values = [read(args + i * _SLOT).value for i, read in enumerate(readers)]
            out = impl(*values)
            if len(writers) == 1:
                writers[0](args).value = out
            elif writers:
                for i, (write, value) in enumerate(zip(writers, out, strict=True)):
                    write(args + i * _SLOT).value = value
        except BaseException as exc:
            return _trap_for(exc)
        return 0
    return cb_generic


# ------------------------------------------------------------------ public path


class PublicCallPath:
    name = "public"

    def bind(self, store: wasmtime.Store, func: wasmtime.Func,
             params: Sequence[str], results: Sequence[str]) -> Invoker:
        def invoke(*args: Any) -> Any:
            return func(store, *args)
        return invoke

    def define(self, linker: wasmtime.Linker, module: str, name: str,
               params: Sequence[str], results: Sequence[str], impl: HostImpl) -> None:
        linker.define_func(module, name, functype(params, results), impl)

    def memory_base(self, store: wasmtime.Store, memory: wasmtime.Memory) -> tuple[int, int]:
        return memory.data_ptr(store), memory.data_len(store)

    def export(self, store: wasmtime.Store, instance: wasmtime.Instance, name: str) -> Any:
        return instance.exports(store).get(name)

    def caller(self, store: wasmtime.Store, instance: wasmtime.Instance) -> Caller:
        return PublicCaller(store, instance)

    def clone_linker(self, template: wasmtime.Linker,
                     rebuild: Callable[[], wasmtime.Linker]) -> wasmtime.Linker:
        return rebuild()


class PublicCaller:
    def __init__(self, store: wasmtime.Store, instance: wasmtime.Instance) -> None:
        self._store = store
        self._exports = instance.exports(store)

    def _func(self, name: str) -> wasmtime.Func:
        func = self._exports[name]
        assert isinstance(func, wasmtime.Func)
        return func

    def i64_i64(self, name: str, arg: int) -> int:
        result: int = self._func(name)(self._store, arg)
        return result

    def i64_void(self, name: str, arg: int) -> None:
        self._func(name)(self._store, arg)

    def bound_i64_i64(self, name: str) -> Callable[[int], int]:
        func, store = self._func(name), self._store

        def i64_i64(arg: int) -> int:
            result: int = func(store, arg)
            return result
        return i64_i64

    def void_i32(self, name: str) -> int:
        result: int = self._func(name)(self._store)
        return result

    def void_void(self, name: str) -> None:
        self._func(name)(self._store)


# ------------------------------------------------------------------ modules

def deserialize_module(engine: wasmtime.Engine, buffer: Any, offset: int) -> wasmtime.Module:
    """`Module.deserialize` of `buffer[offset:]` without copying it.

    `buffer` is a writable buffer (e.g. an `mmap`); wasmtime copies what it
    keeps, so the buffer may be released afterwards.
    """
    view = (ctypes.c_char * (len(buffer) - offset)).from_buffer(buffer, offset)
    try:
        return wasmtime.Module.deserialize_at(engine, ctypes.addressof(view), len(view))
    finally:
        del view  # release the export of `buffer` so it can be closed


# ------------------------------------------------------------------ interrupts

_DeadlineCallback = ctypes.CFUNCTYPE(_vp, _vp, _vp, _vp, _vp)
_Finalizer = ctypes.CFUNCTYPE(None, _vp)
# Weak: a store's check must not keep its plug-in (and so the store) alive.
_interrupt_checks: dict[int, weakref.WeakMethod[Callable[[], bool]]] = {}
_interrupt_ids = iter(range(1, 2**62))
_interrupt_lock = threading.Lock()


@_DeadlineCallback  # type: ignore[untyped-decorator]
def _on_deadline(ctx: int, env: int, delta: int, kind: int) -> int:
    ref = _interrupt_checks.get(env)
    check = ref() if ref is not None else None
    if check is not None and check():
        error: int = lib.wasmtime_error_new(b"timeout") or 0
        return error
    ctypes.c_uint64.from_address(delta).value = 1
    ctypes.c_uint8.from_address(kind).value = 0  # continue
    return 0


@_Finalizer  # type: ignore[untyped-decorator]
def _forget_check(env: int, _checks: dict[int, Any] = _interrupt_checks) -> None:
    _checks.pop(env, None)  # the default argument survives interpreter shutdown


def install_interrupt_check(store: wasmtime.Store, check: Callable[[], bool]) -> None:
    """`check` must be a bound method; only a weak reference to it is kept.


    Makes `store` consult `check()` whenever the engine's epoch advances.

    When it returns True the running Wasm stops with the error `timeout`;
    otherwise execution continues until the next epoch tick. The deadline is
    one tick ahead at all times, so an epoch increment (timer or cancel) is
    noticed at the next check point of every store on the engine, and only
    the stores whose check says so are stopped.
    """
    with _interrupt_lock:
        env = next(_interrupt_ids)
    _interrupt_checks[env] = weakref.WeakMethod(check)
    store._context()  # (not closed)
    lib.wasmtime_store_epoch_deadline_callback(store._ptr, _address(_on_deadline), env,
                                               _address(_forget_check))
    store.set_epoch_deadline(1)


# ------------------------------------------------------------------ selection

_PATHS: dict[str, CallPath] = {"raw": RawCallPath(), "public": PublicCallPath()}


def get(name: str | None = None) -> CallPath:
    """The call path named `name`, else `$WASMPLUG_CALL_PATH`, else raw."""
    chosen = name or os.environ.get("WASMPLUG_CALL_PATH") or "raw"
    try:
        return _PATHS[chosen]
    except KeyError:
        raise ValueError(
            f"unknown call path {chosen!r}: use one of {', '.join(sorted(_PATHS))}"
        ) from None
