"""Where arenas live: the interface every arena backend offers the web layer.

Two backends implement it, side by side: `local.LocalArenas` (arenas in this
process, the default) and `ray.RayArenas` (arenas in named Ray actors shared
by every server of a cluster). The views only ever see an `ArenaBackend`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

Send = Callable[[str], Awaitable[None]]


@dataclass(frozen=True)
class ArenaPage:
    """What the arena page shows a member when it is loaded."""

    code: str
    name: str
    arena_html: str
    board_html: str


class Connection(Protocol):
    """A member's open WebSocket, seen from the arena."""

    async def handle(self, text: str) -> bool:
        """Handle one message; False once the member has left the arena."""

    async def close(self) -> None: ...


class ArenaBackend(Protocol):
    """Where a server's arenas live: in this process (`LocalArenas`) or in
    named Ray actors shared by several servers (`ray.RayArenas`).
    Members are known by the arena code and their secret token."""

    async def create(self, name: str, owner: str = "") -> tuple[str, str]:
        """A new arena hosted by `name`: (code, token). ArenaError if refused (too many
        arenas, or too many of `owner`'s: a client address or an account)."""

    async def check_owner(self, owner: str) -> None:
        """ArenaError if `owner` has as many live arenas as it may (a new one would be refused)."""

    async def join(self, code: str, name: str) -> tuple[str, str]:
        """`name` joins arena `code`: (code, token). ArenaError if refused."""

    async def exists(self, code: str) -> bool:
        """Whether an arena has this code now."""

    async def page(self, code: str, token: str | None) -> ArenaPage | None:
        """The arena page of the member with `token`, None if not a member."""

    async def connect(self, code: str, token: str | None, send: Send) -> Connection | None:
        """Open a viewer that sends with `send`; None if not a member."""

    def sweep(self) -> None: ...

    async def close(self) -> None: ...
