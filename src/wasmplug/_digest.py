"""SHA-256 and HMAC-SHA256 without loading OpenSSL, for the short inputs of a new process.

`hashlib` and `hmac` import `_hashlib`, which loads libcrypto: ~11 M
instructions (~2 ms) at the start of every process. What a warm one-shot
process hashes is short: the cache key of a module, the stamp of a cache entry,
the name and signature of a source memo, the kernel's text. The interpreter's
built-in SHA-256 does those; HMAC is RFC 2104 over it. Inputs of
`LARGE` bytes or more (a module's bytes, a compiled entry verified in full) go
to `hashlib` / `hmac`, whose OpenSSL code is several times faster on them.
"""

from __future__ import annotations

from _operator import _compare_digest as compare_digest  # what hmac.compare_digest falls back to
from collections.abc import Callable
from typing import Any


def _builtin() -> Callable[..., Any]:
    """The interpreter's own SHA-256 (no OpenSSL): `_sha256` in 3.11, `_sha2` from 3.12."""
    for name in ("_sha256", "_sha2"):
        try:
            return __import__(name).sha256  # type: ignore[no-any-return]
        except (ImportError, AttributeError):
            continue
    import hashlib  # another interpreter: OpenSSL's, loaded after all

    return hashlib.sha256


_builtin_sha256 = _builtin()

__all__ = ["LARGE", "compare_digest", "hmac_sha256", "sha256_hex"]

LARGE = 64 * 1024
_BLOCK = 64  # SHA-256's block size
_IPAD = bytes(x ^ 0x36 for x in range(256))
_OPAD = bytes(x ^ 0x5C for x in range(256))

Data = bytes | bytearray | memoryview


def _sha256(data: Data = b"") -> Any:
    if len(data) >= LARGE:
        import hashlib

        return hashlib.sha256(data)
    return _builtin_sha256(data)


def sha256_hex(data: Data) -> str:
    """The SHA-256 of `data`, in hex."""
    return str(_sha256(data).hexdigest())


def hmac_sha256(key: bytes, data: Data) -> bytes:
    """HMAC-SHA256 of `data` under `key` (the same bytes as `hmac.digest(key, data, "sha256")`)."""
    if len(data) >= LARGE:
        import hmac

        return hmac.digest(key, data, "sha256")
    if len(key) > _BLOCK:
        key = _builtin_sha256(key).digest()
    key = key.ljust(_BLOCK, b"\0")
    inner = _builtin_sha256(key.translate(_IPAD))
    inner.update(data)
    outer = _builtin_sha256(key.translate(_OPAD))
    outer.update(inner.digest())
    return bytes(outer.digest())
