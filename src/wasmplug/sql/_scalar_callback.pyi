"""Types of the optional C extension `_scalar_callback.c` (see there)."""

from collections.abc import Callable
from typing import Any

def bind(addresses: tuple[int, ...], /) -> None: ...
def create(db: int, name: bytes, flags: int, call: Callable[[bytes], bytes], decode: Callable[[bytes], Any],
           fail: Callable[[BaseException], str], strict: bool, integer: bool, /) -> tuple[int, Any]: ...
