"""`_digest`: SHA-256 and HMAC-SHA256 without OpenSSL for short inputs, the same bytes as hashlib's."""

from __future__ import annotations

import hashlib
import hmac
import random

import pytest

from wasmplug import _digest

SIZES = [0, 1, 55, 56, 63, 64, 65, 1000, _digest.LARGE - 1, _digest.LARGE, _digest.LARGE + 1, 300_000]


@pytest.mark.parametrize("key_size", [0, 1, 32, 63, 64, 65, 200])
def test_hmac_matches_the_standard_library(key_size: int) -> None:
    rng = random.Random(key_size)
    key = rng.randbytes(key_size)
    for size in SIZES:
        data = rng.randbytes(size)
        expected = hmac.digest(key, data, "sha256")
        assert _digest.hmac_sha256(key, data) == expected, size
        assert _digest.hmac_sha256(key, memoryview(data)) == expected, size
        assert _digest.hmac_sha256(key, bytearray(data)) == expected, size


def test_sha256_matches_the_standard_library() -> None:
    rng = random.Random(7)
    for size in SIZES:
        data = rng.randbytes(size)
        assert _digest.sha256_hex(data) == hashlib.sha256(data).hexdigest(), size
        assert _digest.sha256_hex(memoryview(data)) == hashlib.sha256(data).hexdigest(), size


def test_compare_digest_is_a_constant_time_comparison_that_says_equal_or_not() -> None:
    assert _digest.compare_digest(b"a" * 32, b"a" * 32)
    assert not _digest.compare_digest(b"a" * 32, b"a" * 31 + b"b")
    assert not _digest.compare_digest(b"a" * 32, b"a" * 31)
