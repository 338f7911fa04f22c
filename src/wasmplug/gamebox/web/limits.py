"""Body limits: a request whose declared size is too large is refused before it is read."""

from __future__ import annotations

from starlette.requests import Request


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
