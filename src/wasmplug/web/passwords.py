"""Secrets of accounts: usernames' shape, password hashing (argon2), API tokens (stored hashed).

Hashing is slow on purpose (tens to hundreds of milliseconds of CPU), so a web
server runs it on its own `HashingPool`: a few threads and a bounded queue that
refuses (`HashingBusy`) rather than letting a flood of sign-ins or sign-ups wait
in, and fill, the event loop's default thread pool.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import hashlib
import os
import re
import secrets
import threading
from collections.abc import Callable
from typing import TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from .errors import AccountError

USERNAME = re.compile(r"[A-Za-z0-9_-]{3,32}")
USERNAME_MAX = 32
PASSWORD_MIN = 8
PASSWORD_MAX = 1024  # longer is refused before any hashing (argon2's cost grows with it)
_hasher = PasswordHasher()
T = TypeVar("T")


def too_long(username: str, password: str) -> str:
    """Why a username or password is refused unchecked ("" if both are short enough)."""
    if len(username) > USERNAME_MAX:
        return f"a username is at most {USERNAME_MAX} characters"
    if len(password) > PASSWORD_MAX:
        return f"a password is at most {PASSWORD_MAX} characters"
    return ""


def check_username(username: str) -> str:
    if not USERNAME.fullmatch(username):
        raise AccountError("a username is 3 to 32 letters, digits, '-' or '_': choose another")
    return username


def hash_password(password: str) -> str:
    if len(password) < PASSWORD_MIN:
        raise AccountError(f"a password needs at least {PASSWORD_MIN} characters")
    if len(password) > PASSWORD_MAX:
        raise AccountError(f"a password is at most {PASSWORD_MAX} characters")
    return _hasher.hash(password)


def verify_password(stored_hash: str, password: str) -> bool:
    if len(password) > PASSWORD_MAX:
        return False
    try:
        return _hasher.verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False


DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))  # unknown users cost as much as known ones


TOKEN_PREFIX = re.compile(r"[a-z]{2,8}_")


def new_token(prefix: str) -> str:
    """A new API token: the application's `prefix` (say "gbt_": which application's token it is, for
    people and secret scanners) and 256 random bits."""
    if not TOKEN_PREFIX.fullmatch(prefix):
        raise ValueError(f"a token prefix is 2 to 8 lower-case letters and '_', not {prefix!r}")
    return prefix + secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class HashingBusy(AccountError):
    """Every hashing thread is busy and the queue is full: try again in a moment."""


def _lowest_priority() -> None:
    """This thread (a hashing one) at the lowest CPU priority (Linux: niceness is per thread),
    so a flood of sign-ins, each ~0.3 s of argon2, never takes a core from the event loop
    that serves everyone else: hashing gets what the loop leaves."""
    with contextlib.suppress(OSError, AttributeError):  # (not Linux: the priority stays)
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)


class HashingPool:
    """`workers` threads for password hashing, with at most `queue` jobs waiting for them.

        pool = HashingPool(workers=2, queue=16)
        account = await pool.run(accounts.authenticate, username, password)

    A job past the bound is refused at once with `HashingBusy` (answer 503) instead of
    waiting; the count covers jobs whose caller has gone (a cancelled request's hashing
    still runs to its end and keeps its place until then).
    """

    def __init__(self, workers: int = 2, queue: int = 16) -> None:
        if workers < 1 or queue < 0:
            raise ValueError("a hashing pool needs workers >= 1 and queue >= 0")
        self.capacity = workers + queue
        self.workers = workers
        self._executor = self._new_executor()
        self._lock = threading.Lock()
        self._pending = 0
        self.refused = 0  # how many jobs were refused (for tests and metrics)

    @property
    def pending(self) -> int:
        """Jobs running or waiting."""
        return self._pending

    def submit(self, fn: Callable[..., T], *args: object) -> concurrent.futures.Future[T]:
        """Start `fn(*args)` on the pool, or raise `HashingBusy` when it is full."""
        with self._lock:
            if self._pending >= self.capacity:
                self.refused += 1
                raise HashingBusy("the server is busy checking passwords: try again in a few seconds")
            self._pending += 1
        try:
            future = self._executor.submit(fn, *args)
        except BaseException:
            self._done()
            raise
        future.add_done_callback(lambda _f: self._done())
        return future

    def _done(self) -> None:
        with self._lock:
            self._pending -= 1

    async def run(self, fn: Callable[..., T], *args: object) -> T:
        """`fn(*args)` on the pool, awaited (`HashingBusy` at once when the pool is full)."""
        return await asyncio.wrap_future(self.submit(fn, *args))

    def _new_executor(self) -> concurrent.futures.ThreadPoolExecutor:
        return concurrent.futures.ThreadPoolExecutor(self.workers, thread_name_prefix="hashing",
                                                     initializer=_lowest_priority)

    def close(self) -> None:
        """Stop the threads (jobs not yet started are dropped); the pool can be used again."""
        old, self._executor = self._executor, self._new_executor()
        old.shutdown(wait=False, cancel_futures=True)
