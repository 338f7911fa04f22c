"""The hot path: how Python calls Wasm functions and Wasm calls Python.

Every low-level trick lives in this module and nowhere else. Two
implementations share one interface:

- `RawCallPath` (the default) talks to wasmtime's C API directly through our
  own ctypes prototypes that take plain integer addresses:
  `wasmtime_func_call_unchecked` for calls (no value boxing, ~0.5 µs) and
  `wasmtime_linker_define_func_unchecked` for host functions (~0.35 µs per
  round trip). It relies on wasmtime-py internals (`Store._context`,
  `Func._func`, `Linker.ptr`), which is why `wasmtime` is pinned to versions
  whose bindings we have tested.
- `PublicCallPath` does the same through wasmtime-py's public API only. It is
  the reference the tests compare against, and the fallback should a wasmtime
  release change the internals (`WASMPLUG_CALL_PATH=public`).

Both raise the same exceptions: `wasmtime.Trap` for a trap,
`wasmtime.WasmtimeError` (or `ExitTrap`) for other failures, and the original
Python exception when a host function raised one.

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

import wasmtime
from wasmtime import _bindings as _b
from wasmtime import _ffi as _ffi
from wasmtime._extern import wrap_extern

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


# A Python exception raised inside a host function travels as a trap through
# Wasm; the thread that made the call finds the original here and re-raises it.
_pending = threading.local()


def _stash(exc: BaseException) -> None:
    _pending.exc = exc


def _take_pending() -> BaseException | None:
    exc: BaseException | None = getattr(_pending, "exc", None)
    if exc is not None:
        _pending.exc = None
    return exc


# ------------------------------------------------------------------ raw path

_DLL: Any = getattr(_b, "dll")  # noqa: B009 - not re-exported by wasmtime._bindings
_vp, _sz = ctypes.c_void_p, ctypes.c_size_t
_call_unchecked = ctypes.CFUNCTYPE(_vp, _vp, _vp, _vp, _sz, _vp)(
    ("wasmtime_func_call_unchecked", _DLL))
# The same, keeping the GIL (module docstring): for the kernel's short functions only.
_call_unchecked_holding_gil = ctypes.PYFUNCTYPE(_vp, _vp, _vp, _vp, _sz, _vp)(
    ("wasmtime_func_call_unchecked", _DLL))
_define_unchecked = ctypes.CFUNCTYPE(
    _vp, _vp, ctypes.c_char_p, _sz, ctypes.c_char_p, _sz, _vp, _vp, _vp, _vp)(
    ("wasmtime_linker_define_func_unchecked", _DLL))
_trap_new = ctypes.CFUNCTYPE(_vp, ctypes.c_char_p, _sz)(("wasmtime_trap_new", _DLL))
_error_new = ctypes.CFUNCTYPE(_vp, ctypes.c_char_p)(("wasmtime_error_new", _DLL))
_linker_clone_raw = ctypes.CFUNCTYPE(_vp, _vp)(("wasmtime_linker_clone", _DLL))


def _linker_clone(linker: int) -> Any:
    return ctypes.cast(_linker_clone_raw(linker), ctypes.POINTER(_ffi.wasmtime_linker_t))


_export_get = ctypes.CFUNCTYPE(ctypes.c_bool, _vp, _vp, ctypes.c_char_p, _sz, _vp)(
    ("wasmtime_instance_export_get", _DLL))
_memory_data = ctypes.CFUNCTYPE(_vp, _vp, _vp)(("wasmtime_memory_data", _DLL))
_memory_size = ctypes.CFUNCTYPE(_sz, _vp, _vp)(("wasmtime_memory_data_size", _DLL))
_set_deadline_callback = ctypes.CFUNCTYPE(None, _vp, _vp, _vp, _vp)(
    ("wasmtime_store_epoch_deadline_callback", _DLL))

_RawCallback = ctypes.CFUNCTYPE(_sz, _vp, _vp, _vp, _sz)
_SLOT = ctypes.sizeof(_ffi.wasmtime_val_raw_t)  # 16 bytes per argument/result
_CTYPE: dict[str, Any] = {I32: ctypes.c_int32, I64: ctypes.c_int64, F32: ctypes.c_float, F64: ctypes.c_double}
_i64_at = ctypes.c_int64.from_address
_i32_at = ctypes.c_int32.from_address


def _address(pointer: Any) -> int:
    return ctypes.cast(pointer, ctypes.c_void_p).value or 0


def _raise_failure(error: int | None, trap_slot: ctypes.c_void_p) -> None:
    pending = _take_pending()
    trap = trap_slot.value
    trap_slot.value = None
    if not trap and not error:
        raise AssertionError("wasm call reported failure without a trap or an error")
    if trap:
        exc: Exception = wasmtime.Trap._from_ptr(
            ctypes.cast(trap, ctypes.POINTER(_ffi.wasm_trap_t)))
    else:
        exc = wasmtime.WasmtimeError._from_ptr(
            ctypes.cast(error or 0, ctypes.POINTER(_ffi.wasmtime_error_t)))
    if pending is not None:
        raise pending
    raise exc


def _trap_for(exc: BaseException) -> int:
    _stash(exc)
    message = (str(exc) or type(exc).__name__).encode("utf-8", "replace")
    return _trap_new(message, len(message)) or 0


_BUFFERS = [_ffi.wasmtime_val_raw_t * n for n in range(17)]
_EXTERN_FUNC = _ffi.WASMTIME_EXTERN_FUNC.value


class RawCaller:
    """One argument buffer for every call; function addresses looked up on first use.

    Calls through one caller never nest (kernel functions do not call back
    into Python), so sharing the buffer is safe. They keep the GIL (the kernel's
    functions are short and bounded; an epoch check inside one runs its Python
    callback on this thread, which holds the GIL already).
    """

    def __init__(self, store: wasmtime.Store, instance: wasmtime.Instance) -> None:
        self._keep = [store, instance]
        self._ctx = _address(store._context())
        self._instance = ctypes.addressof(instance._instance)
        self._buf = _BUFFERS[2]()
        self._bufa = ctypes.addressof(self._buf)
        self._slot0 = ctypes.c_int64.from_address(self._bufa)
        self._slot1 = ctypes.c_int64.from_address(self._bufa + _SLOT)
        self._slot32 = ctypes.c_int32.from_address(self._bufa)
        self._trap = ctypes.c_void_p()
        self._trapa = ctypes.addressof(self._trap)
        self._funcs: dict[str, int] = {}

    def _func(self, name: str) -> int:
        item = _ffi.wasmtime_extern_t()
        key = name.encode()
        if (not _export_get(self._ctx, self._instance, key, len(key), ctypes.addressof(item))
                or int(item.kind) != _EXTERN_FUNC):
            raise KeyError(f"the instance exports no function {name!r}")
        self._keep.append(item)
        address = self._funcs[name] = ctypes.addressof(item.of.func)
        return address

    def _call(self, name: str, slots: int) -> None:
        fn = self._funcs.get(name) or self._func(name)
        error = _call_unchecked_holding_gil(self._ctx, fn, self._bufa, slots, self._trapa)
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
        call = _call_unchecked_holding_gil

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
        clone: wasmtime.Linker = wasmtime.Linker.__new__(wasmtime.Linker)
        clone._set_ptr(_linker_clone(_address(template.ptr())))
        clone.engine = template.engine
        return clone

    def export(self, store: wasmtime.Store, instance: wasmtime.Instance, name: str) -> Any:
        item = _ffi.wasmtime_extern_t()
        key = name.encode()
        if not _export_get(_address(store._context()), ctypes.addressof(instance._instance),
                           key, len(key), ctypes.addressof(item)):
            return None
        if int(item.kind) == _EXTERN_FUNC:
            return wasmtime.Func._from_raw(item.of.func)
        return wrap_extern(item)

    def bind(self, store: wasmtime.Store, func: wasmtime.Func,
             params: Sequence[str], results: Sequence[str]) -> Invoker:
        ctx = _address(store._context())
        slots = max(len(params), len(results), 1)
        buf = (_BUFFERS[slots] if slots < len(_BUFFERS) else _ffi.wasmtime_val_raw_t * slots)()
        trap = ctypes.c_void_p()
        fn, bufa, trapa = ctypes.addressof(func._func), ctypes.addressof(buf), ctypes.addressof(trap)
        call = _call_unchecked
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
        ty = functype(params, results)
        m, n = module.encode(), name.encode()
        error = _define_unchecked(_address(linker.ptr()), m, len(m), n, len(n),
                                  _address(ty.ptr()), _address(callback), token,
                                  _address(_release_callback))
        if error:
            _callbacks.release(token)
            raise wasmtime.WasmtimeError._from_ptr(
                ctypes.cast(error, ctypes.POINTER(_ffi.wasmtime_error_t)))

    def memory_base(self, store: wasmtime.Store, memory: wasmtime.Memory) -> tuple[int, int]:
        ctx = _address(store._context())
        ref = ctypes.addressof(memory._memory)
        return _memory_data(ctx, ref) or 0, _memory_size(ctx, ref)


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
        return _address(memory.data_ptr(store)), memory.data_len(store)

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

_deserialize = ctypes.CFUNCTYPE(_vp, _vp, _vp, _sz, _vp)(("wasmtime_module_deserialize", _DLL))


def deserialize_module(engine: wasmtime.Engine, buffer: Any, offset: int) -> wasmtime.Module:
    """`Module.deserialize` of `buffer[offset:]` without copying it.

    `buffer` is a writable buffer (e.g. an `mmap`); wasmtime copies what it
    keeps, so the buffer may be released afterwards.
    """
    view = (ctypes.c_char * (len(buffer) - offset)).from_buffer(buffer, offset)
    try:
        out = ctypes.c_void_p()
        error = _deserialize(_address(engine.ptr()), ctypes.addressof(view), len(view),
                             ctypes.addressof(out))
        if error:
            raise wasmtime.WasmtimeError._from_ptr(
                ctypes.cast(error, ctypes.POINTER(_ffi.wasmtime_error_t)))
        return wasmtime.Module._from_ptr(ctypes.cast(out, ctypes.POINTER(_ffi.wasmtime_module_t)))
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
        return _error_new(b"timeout") or 0
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
    _set_deadline_callback(_address(store.ptr()), _address(_on_deadline), env,
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
