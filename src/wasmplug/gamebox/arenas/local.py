"""Arenas in this process (the default backend): a thin face over `ArenaEngine`."""

from __future__ import annotations

import asyncio
import contextlib

from .base import ArenaPage, Connection, Send
from .engine import ArenaEngine, Viewer
from .state import Arena, Member, normalise_code


class _LocalConnection:
    def __init__(self, box: ArenaEngine, arena: Arena, member: Member, viewer: Viewer) -> None:
        self.box, self.arena, self.member, self.viewer = box, arena, member, viewer
        self.writer = asyncio.create_task(viewer.run())

    async def handle(self, text: str) -> bool:
        if self.arena.members.get(self.member.name) is not self.member:
            return False  # left the arena (or was timed out)
        await self.box.handle(self.arena, self.member, self.viewer, text)
        return not self.viewer.overflowed  # floods bad messages and never reads: disconnected

    async def close(self) -> None:
        self.box.disconnect(self.arena, self.member, self.viewer)
        self.writer.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self.writer


class LocalArenas:
    """Arenas in this process (the default): a thin face over `ArenaEngine`."""

    def __init__(self, box: ArenaEngine) -> None:
        self.box = box

    async def create(self, name: str, owner: str = "") -> tuple[str, str]:
        arena, member = self.box.create_arena(name, owner)
        return arena.code, member.token

    async def check_owner(self, owner: str) -> None:
        self.box.arenas.check_owner(owner)

    async def join(self, code: str, name: str) -> tuple[str, str]:
        arena, member = await self.box.join(code, name)
        return arena.code, member.token

    async def exists(self, code: str) -> bool:
        return normalise_code(code) in self.box.arenas.arenas

    async def page(self, code: str, token: str | None) -> ArenaPage | None:
        found = self.box.arenas.by_token(code, token)
        if found is None:
            return None
        arena, member = found
        return ArenaPage(arena.code, member.name, self.box.arena_html(arena, member),
                         await self.box.board_html(arena, member))

    async def connect(self, code: str, token: str | None, send: Send) -> Connection | None:
        found = self.box.arenas.by_token(code, token)
        if found is None:
            return None
        arena, member = found
        connection = _LocalConnection(self.box, arena, member, Viewer(member.name, send))
        await self.box.connect(arena, member, connection.viewer)
        return connection

    def sweep(self) -> None:
        self.box.sweep()

    async def close(self) -> None:
        await asyncio.to_thread(self.box.close)  # waits for games mid-call: not on the event loop
