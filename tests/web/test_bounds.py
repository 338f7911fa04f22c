"""The web foundation's own bounds: rate limiter memory, the password hashing pool."""

from __future__ import annotations

import asyncio
import threading
import time
import tracemalloc

import pytest

from wasmplug.web.passwords import PASSWORD_MAX, HashingBusy, HashingPool, too_long
from wasmplug.web.rate_limits import RateLimiter

pytestmark = pytest.mark.timeout(60)


def test_rate_limiter_memory_is_bounded_by_key_count_and_key_size() -> None:
    """40 sign-ins with 8 MB usernames kept +336 MB: keys are capped in number and size."""
    limiter = RateLimiter(5, 60.0, max_keys=1_000)
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for n in range(20_000):
            limiter.hit(f"{n:08d}" + "x" * 1_000)  # 20,000 distinct 1 KB keys
        for n in range(20):
            limiter.hit(str(n) * 1_000_000)  # a few enormous ones
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert len(limiter) == 1_000
    assert grown < 2 * 1024 * 1024, grown  # 1,000 keys of at most 200 characters, not 20 MB
    assert limiter.blocked(str(19) * 1_000_000) == 0  # a hashed key still counts: one hit of 5


def test_rate_limiter_drops_keys_whose_window_has_passed(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [1000.0]
    monkeypatch.setattr(time, "monotonic", lambda: clock[0])
    limiter = RateLimiter(2, 10.0)
    for n in range(500):
        limiter.hit(f"old-{n}")
    assert len(limiter) == 500
    clock[0] += 11.0  # every old window has passed
    limiter.hit("new")
    assert len(limiter) == 1
    assert limiter.attempt("new") == 0 and limiter.attempt("new") == pytest.approx(10.0)
    assert limiter.count("new") == 2  # the refused attempt was not counted


def test_the_hashing_pool_refuses_past_its_bound_and_frees_its_places() -> None:
    pool = HashingPool(workers=1, queue=1)
    release = threading.Event()
    held = [pool.submit(release.wait, 30) for _ in range(2)]
    assert pool.pending == 2
    with pytest.raises(HashingBusy, match="busy checking passwords"):
        pool.submit(len, "x")
    assert pool.refused == 1
    release.set()
    for future in held:
        assert future.result(10) is True
    assert asyncio.run(pool.run(len, "abc")) == 3  # places are free again
    assert pool.pending == 0
    pool.close()


def test_over_long_names_and_passwords_are_refused_unhashed() -> None:
    assert too_long("a" * 33, "") == "a username is at most 32 characters"
    assert too_long("ada", "p" * (PASSWORD_MAX + 1)) == f"a password is at most {PASSWORD_MAX} characters"
    assert too_long("ada", "p" * PASSWORD_MAX) == ""
