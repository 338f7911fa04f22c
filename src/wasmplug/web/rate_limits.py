"""Rate limits: at most so many tries per key (a username, an address) in a sliding window."""

from __future__ import annotations

import time
from collections import deque


class RateLimiter:
    """At most `limit` hits per key in any `window` seconds (a sliding window, in memory)."""

    def __init__(self, limit: int, window: float) -> None:
        self.limit = limit
        self.window = window
        self._hits: dict[str, deque[float]] = {}

    def _recent(self, key: str) -> deque[float]:
        hits = self._hits.setdefault(key, deque())
        cutoff = time.monotonic() - self.window
        while hits and hits[0] < cutoff:
            hits.popleft()
        return hits

    def blocked(self, key: str) -> float:
        """Seconds until `key` may try again (0: it may now)."""
        hits = self._recent(key)
        if len(hits) < self.limit:
            return 0.0
        return max(0.0, hits[0] + self.window - time.monotonic())

    def hit(self, key: str) -> None:
        self._recent(key).append(time.monotonic())
        if len(self._hits) > 100_000:  # forget idle keys rather than grow without bound
            for stale in [k for k, v in self._hits.items() if not v]:
                del self._hits[stale]
