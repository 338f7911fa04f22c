"""Secrets of accounts: usernames' shape, password hashing (argon2), API tokens (stored hashed)."""

from __future__ import annotations

import hashlib
import re
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from .errors import AccountError

USERNAME = re.compile(r"[A-Za-z0-9_-]{3,32}")
PASSWORD_MIN = 8
_hasher = PasswordHasher()


def check_username(username: str) -> str:
    if not USERNAME.fullmatch(username):
        raise AccountError("a username is 3 to 32 letters, digits, '-' or '_': choose another")
    return username


def hash_password(password: str) -> str:
    if len(password) < PASSWORD_MIN:
        raise AccountError(f"a password needs at least {PASSWORD_MIN} characters")
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
