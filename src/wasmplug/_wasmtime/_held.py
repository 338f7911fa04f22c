"""Python objects that wasmtime holds: callbacks and their data, released by wasmtime.

C code gets a token (an integer passed as its `void* env`) for an object kept
here, and the address of `RELEASE`, which wasmtime calls exactly once when it
drops its last reference (a linker, store or WASI context freed); the object
is then forgotten. `len(held)` counts what wasmtime still holds.
"""

from __future__ import annotations

import ctypes
import itertools
import threading
from typing import Any

held: dict[int, Any] = {}
_tokens = itertools.count(1)
_lock = threading.Lock()


def hold(obj: Any) -> int:
    """Keep `obj` until wasmtime releases its token."""
    with _lock:
        token = next(_tokens)
    held[token] = obj
    return token


@ctypes.CFUNCTYPE(None, ctypes.c_void_p)  # type: ignore[untyped-decorator]
def _release(token: int | None, _held: dict[int, Any] = held) -> None:
    _held.pop(token or 0, None)  # the default argument survives interpreter shutdown


RELEASE: int = ctypes.cast(_release, ctypes.c_void_p).value or 0
