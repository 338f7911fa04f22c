"""Rate limits: at most so many tries per key (a username, an address) in a sliding window.

The limiter's memory is bounded whatever callers send: a key is at most `KEY_MAX`
characters (a longer one is replaced by its SHA-256), a key keeps at most `limit`
timestamps, at most `max_keys` keys are kept (the least recently used goes first), and a
key whose window has passed is dropped.
"""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict, deque

KEY_MAX = 200


def _bounded(key: str) -> str:
    if len(key) <= KEY_MAX:
        return key
    return "sha256:" + hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


class RateLimiter:
    """At most `limit` hits per key in any `window` seconds (a sliding window, in memory)."""

    def __init__(self, limit: int, window: float, *, max_keys: int = 100_000) -> None:
        if limit < 1 or window <= 0 or max_keys < 1:
            raise ValueError("a rate limit needs limit >= 1, window > 0 and max_keys >= 1")
        self.limit = limit
        self.window = window
        self.max_keys = max_keys
        self._hits: OrderedDict[str, deque[float]] = OrderedDict()

    def __len__(self) -> int:
        """How many keys are kept."""
        return len(self._hits)

    def _recent(self, key: str, now: float) -> deque[float] | None:
        hits = self._hits.get(key)
        if hits is None:
            return None
        cutoff = now - self.window
        while hits and hits[0] <= cutoff:
            hits.popleft()
        if not hits:
            del self._hits[key]
            return None
        return hits

    def _wait(self, hits: deque[float] | None, now: float) -> float:
        if hits is None or len(hits) < self.limit:
            return 0.0
        return max(0.0, hits[0] + self.window - now) or 1e-3

    def blocked(self, key: str) -> float:
        """Seconds until `key` may try again (0: it may now)."""
        now = time.monotonic()
        return self._wait(self._recent(_bounded(key), now), now)

    def count(self, key: str) -> int:
        """How many hits `key` has in the window (at most `limit`)."""
        hits = self._recent(_bounded(key), time.monotonic())
        return 0 if hits is None else len(hits)

    def hit(self, key: str) -> None:
        """Count one try of `key` (whether or not it was allowed)."""
        now = time.monotonic()
        key = _bounded(key)
        hits = self._recent(key, now)
        if hits is None:
            self._shrink(now, room=1)
            hits = self._hits[key] = deque(maxlen=self.limit)
        else:
            self._hits.move_to_end(key)
        hits.append(now)

    def attempt(self, key: str) -> float:
        """Count a try of `key` if it may try now and return 0; else the seconds to wait.

        Checking and counting are one step, so concurrent tries cannot all pass the check
        before any of them is counted."""
        wait = self.blocked(key)
        if not wait:
            self.hit(key)
        return wait

    def forget(self, key: str) -> None:
        """Drop `key`'s tries (e.g. after a successful sign-in)."""
        self._hits.pop(_bounded(key), None)

    def _shrink(self, now: float, room: int) -> None:
        """Drop keys whose window has passed, least recently used first, and then more of
        them until `room` new keys fit under `max_keys`."""
        cutoff = now - self.window
        while self._hits:
            oldest_key, oldest = next(iter(self._hits.items()))
            if len(self._hits) + room > self.max_keys or not oldest or oldest[-1] <= cutoff:
                del self._hits[oldest_key]
            else:
                break
