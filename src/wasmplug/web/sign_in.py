"""Sign-in throttling: password guesses are limited per (username, address), slowed per address.

    guard = SignInGuard()
    await guard.admit(address)      # before the form is read: Throttled, or its turn waited
    account = await guard.check(username, address, lambda: pool.run(accounts.authenticate, ...))

- A try is counted *before* its password is checked, so concurrent guesses cannot
  all pass the limit while the first ones are still hashing: at most `attempts`
  tries per username and address in `window` seconds reach the password check
  (the others get `Throttled`, even with the right password).
- The key is the pair (username, address): an attacker's failures lock the
  attacker's address out of that account, not the account's owner signing in
  from elsewhere.
- Failures per address only slow that address down, they never lock it out:
  after `free_failures` failures in the window each further try waits
  `base_delay * 2**n` (at most `max_delay`) and one at a time, with at most
  `max_waiting` tries waiting per address. Behind a proxy the server does not
  trust every visitor shares the proxy's address, so this costs them time, not
  their accounts (trust the proxy with uvicorn's `forwarded_allow_ips`).
- What depends on the address alone (a full queue, the delay) is `admit`, which an
  application calls before it reads the sign-in form: a refused try costs no form
  parsing and no CSRF check, and a waiting one holds no parsed form.

Every table here is bounded by count (see `RateLimiter`) and by key size.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

from .errors import AccountError
from .rate_limits import RateLimiter

T = TypeVar("T")


class Throttled(AccountError):
    """Too many sign-in tries: `wait` seconds until the next may be made."""

    def __init__(self, message: str, wait: float) -> None:
        super().__init__(message)
        self.wait = wait


class SignInGuard:
    """Limits and delays on checking passwords (see the module's docstring)."""

    def __init__(self, attempts: int = 5, window: float = 60.0, *, free_failures: int = 20,
                 base_delay: float = 0.25, max_delay: float = 5.0, max_waiting: int = 8,
                 max_keys: int = 100_000) -> None:
        self.pairs = RateLimiter(attempts, window, max_keys=max_keys)
        self.address_failures = RateLimiter(free_failures + 64, window, max_keys=max_keys)
        self.free_failures = free_failures
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.max_waiting = max_waiting
        self._queues: dict[str, tuple[asyncio.Lock, int]] = {}  # only while a try waits

    def delay(self, address: str) -> float:
        """How long the next try from `address` waits before its password is checked."""
        failures = self.address_failures.count(address)
        if failures < self.free_failures:
            return 0.0
        return min(self.max_delay, self.base_delay * 2.0 ** min(failures - self.free_failures, 30))

    def waiting(self, address: str) -> int:
        """How many tries of `address` are waiting for their turn now."""
        return self._queues.get(address, (None, 0))[1]

    async def admit(self, address: str) -> None:
        """What `address` alone decides, before anything of the try is read: `Throttled` if
        `max_waiting` of its tries wait already, else its turn waited (after failures past
        `free_failures`)."""
        delay = self.delay(address)
        if delay:
            await self._wait_turn(address, delay)

    async def check(self, username: str, address: str,
                    verify: Callable[[], Awaitable[T | None]]) -> T | None:
        """`verify()` (None: wrong password), if this try is allowed; else `Throttled`.
        (The try's turn is `admit`'s: call it first.)"""
        pair = f"{username.lower()}\0{address}"
        wait = self.pairs.attempt(pair)  # counted before the (slow) check
        if wait:
            raise Throttled(f"too many failed sign-ins: try again in {int(wait) + 1} s", wait)
        result = await verify()
        if result is None:
            self.address_failures.hit(address)
        else:
            self.pairs.forget(pair)
        return result

    async def _wait_turn(self, address: str, delay: float) -> None:
        """Wait `delay` seconds, one try of `address` after the other (bounded queue)."""
        lock, waiting = self._queues.get(address, (asyncio.Lock(), 0))
        if waiting >= self.max_waiting:
            raise Throttled("too many sign-ins from your address at once: try again in a few "
                            "seconds", delay)
        self._queues[address] = (lock, waiting + 1)
        try:
            async with lock:
                await asyncio.sleep(self.delay(address) or delay)
        finally:
            lock, waiting = self._queues[address]
            if waiting <= 1:
                del self._queues[address]
            else:
                self._queues[address] = (lock, waiting - 1)
