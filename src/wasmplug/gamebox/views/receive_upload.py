"""Receiving an upload, from the "My games" form or the API: size first, then rate, then the checks.

A request whose declared size is too large is refused before it is read; a
member uploading too often waits; the catalogue checks the game itself.
"""

from __future__ import annotations

import asyncio
import functools
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from starlette.datastructures import UploadFile
from starlette.requests import Request

from wasmplug.web.accounts import Account
from wasmplug.web.limits import declared_size_refusal

from ..errors import GameBoxError, UploadRejected
from ..upload_worker import MAX_RUNNING, MAX_WAITING
from .pages import library, limiter

ARTWORK_PART = 3 * 1024 * 1024  # the artwork (at most 2 MB) and the form's fields, with room
# Uploads wait for their checks (upload_worker) in threads of their own, so however many
# arrive at once, the default thread pool stays free for every other request.
UPLOAD_THREADS = ThreadPoolExecutor(max_workers=MAX_RUNNING + MAX_WAITING,
                                    thread_name_prefix="gamebox-upload")


class RateLimited(GameBoxError):
    """Too many tries: wait and try again."""


def too_big(request: Request) -> str:
    """Why the upload is refused unread ("" if its declared size is fine)."""
    max_bytes = library(request).policy.max_bytes
    return declared_size_refusal(request, max_bytes + ARTWORK_PART,
                                 f"{max_bytes} bytes of game and 2 MB of artwork")


async def upload_game(request: Request, me: Account, form: Any) -> tuple[str, int]:
    """Add the form's game (or a new version of it) for `me`: (slug, version number).

    RateLimited, UploadRejected or AccessDenied when refused."""
    games = library(request)
    wasm_file = form.get("wasm")
    art_file = form.get("artwork")
    if not isinstance(wasm_file, UploadFile):
        raise UploadRejected(["choose the game's .wasm file"])
    wasm = await wasm_file.read(games.policy.max_bytes + 1)
    art = await art_file.read(ARTWORK_PART) if isinstance(art_file, UploadFile) else None
    uploads = limiter(request, "uploads")
    wait = uploads.blocked(str(me.id))
    if wait:
        raise RateLimited(f"too many uploads: try again in {int(wait) + 1} s")
    uploads.hit(str(me.id))
    slug = str(form.get("game") or "") or (wasm_file.filename or "")
    work = functools.partial(games.upload, me, wasm, slug=slug, title=str(form.get("title", "")),
                             description=str(form.get("description", "")), artwork=art or None)
    return await asyncio.get_running_loop().run_in_executor(UPLOAD_THREADS, work)
