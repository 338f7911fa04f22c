"""Limits on what a request may make us handle: a body whose declared size is too large is
refused before it is read; a number from a query or form is bounded before it is used."""

from __future__ import annotations

from typing import TypeVar

from starlette.requests import Request

D = TypeVar("D", int, None)
MAX_ID = 2**63 - 1  # a database id (SQLite's and PostgreSQL's BIGINT)
_MAX_DIGITS = 20


def bounded_int(text: str, default: D, low: int, high: int) -> int | D:
    """`text` as a whole number clamped to [low, high]; `default` if it is not one.

    Over-long input is refused before it is converted (an attacker's 100,000-digit "page"
    costs nothing), and nothing outside the bounds reaches the database, where a value past
    64 bits would raise an overflow.
    """
    text = text.strip()
    if not text or len(text) > _MAX_DIGITS or not text.lstrip("-").isdigit():
        return default
    return min(high, max(low, int(text)))


def parse_id(text: str) -> int | None:
    """`text` as a database id (1 to 2**63 - 1), or None: an id is never clamped to another."""
    value = bounded_int(text, None, 0, MAX_ID + 1)
    return value if value is not None and 1 <= value <= MAX_ID else None


def declared_size_refusal(request: Request, max_bytes: int, what: str) -> str:
    """Why `request` is refused unread ("" if its Content-Length is at most `max_bytes`).

    `what` finishes the sentence "... an upload may be at most": what the limit allows.
    """
    try:
        size = int(request.headers.get("content-length", "0"))
    except ValueError:
        return "the request's Content-Length is not a number"
    if size > max_bytes:
        return f"the request is {size} bytes; an upload may be at most {what}"
    return ""
