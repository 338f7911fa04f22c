"""Accounts: password hashing (argon2), API tokens, rate limits and CSRF tokens.

Sessions are Starlette's signed cookies (`SessionMiddleware`, itsdangerous):
the cookie holds the user's id and the session's CSRF token; a cookie whose
signature does not match is ignored (the visitor is signed out). Every form
carries the CSRF token and every POST checks it.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from collections import deque

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from .errors import GameBoxError

USERNAME = re.compile(r"[A-Za-z0-9_-]{3,32}")
PASSWORD_MIN = 8
_hasher = PasswordHasher()


def check_username(username: str) -> str:
    if not USERNAME.fullmatch(username):
        raise GameBoxError("a username is 3 to 32 letters, digits, '-' or '_': choose another")
    return username


def hash_password(password: str) -> str:
    if len(password) < PASSWORD_MIN:
        raise GameBoxError(f"a password needs at least {PASSWORD_MIN} characters")
    return _hasher.hash(password)


def verify_password(stored_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False


DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))  # unknown users cost as much as known ones


def new_token() -> str:
    return "gbt_" + secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def csrf_ok(expected: object, given: object) -> bool:
    return isinstance(expected, str) and isinstance(given, str) and bool(expected) \
        and hmac.compare_digest(expected, given)


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
