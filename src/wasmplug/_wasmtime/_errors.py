"""Errors and traps from libwasmtime, and Python exceptions carried through Wasm.

A `wasmtime_error_t` or `wasm_trap_t` becomes a Python exception at once: its
message (and trap code, exit status) are copied out and the C object freed,
so no exception owns native memory. A Python exception raised in a host
function travels through Wasm as a trap; the thread that made the call finds
it here (`stash` / `take_pending`) and raises it as itself.
"""

from __future__ import annotations

import ctypes
import threading

from ._lib import ByteVec, lib


class WasmtimeError(Exception):
    """An error reported by wasmtime (not a trap)."""


class ExitTrap(WasmtimeError):
    """WASI `proc_exit`: `code` is the exit status the guest gave."""

    code: int


class Trap(Exception):
    """A Wasm trap; `trap_code` is wasmtime's code for it (None for a host's trap)."""

    trap_code: int | None = None


def error_from(pointer: int) -> WasmtimeError:
    """The exception for a `wasmtime_error_t*`, which is freed."""
    message = ByteVec()
    status = ctypes.c_int(0)
    try:
        lib.wasmtime_error_message(pointer, ctypes.addressof(message))
        text = message.take().decode("utf-8", "replace")
        if lib.wasmtime_error_exit_status(pointer, ctypes.addressof(status)):
            exit_trap = ExitTrap(text)
            exit_trap.code = status.value
            return exit_trap
        return WasmtimeError(text)
    finally:
        lib.wasmtime_error_delete(pointer)


def trap_from(pointer: int) -> Trap:
    """The exception for a `wasm_trap_t*`, which is freed."""
    message = ByteVec()
    code = ctypes.c_uint8(0)
    try:
        lib.wasm_trap_message(pointer, ctypes.addressof(message))
        text = message.take().rstrip(b"\0").decode("utf-8", "replace")
        trap = Trap(text)
        if lib.wasmtime_trap_code(pointer, ctypes.addressof(code)):
            trap.trap_code = code.value
        return trap
    finally:
        lib.wasm_trap_delete(pointer)


def check(error: int | None) -> None:
    """Raise the error a C function returned, if any."""
    if error:
        raise error_from(error)


_pending = threading.local()


def stash(exc: BaseException) -> None:
    """Keep a host function's exception for the thread's Wasm call to re-raise."""
    _pending.exc = exc


def take_pending() -> BaseException | None:
    exc: BaseException | None = getattr(_pending, "exc", None)
    if exc is not None:
        _pending.exc = None
    return exc


def raise_failure(error: int | None, trap: int | None) -> None:
    """Raise what a failed Wasm call reported: a host function's own exception if one
    was raised, else the trap or error (both freed)."""
    pending = take_pending()
    if not trap and not error:
        raise AssertionError("wasm call reported failure without a trap or an error")
    exc: Exception = trap_from(trap) if trap else error_from(error or 0)
    if trap and error:
        error_from(error)  # (never both; freed all the same)
    if pending is not None:
        raise pending
    raise exc


def trap_for(exc: BaseException) -> int:
    """A new trap standing for `exc` (stashed): what a host callback returns to fail."""
    stash(exc)
    message = (str(exc) or type(exc).__name__).encode("utf-8", "replace")
    return lib.wasmtime_trap_new(message, len(message)) or 0
