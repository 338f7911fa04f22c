"""`ArenaEngine`: this process's arenas, their games and their viewers, wired together.

The local backend (`arenas/local.py`) and a Ray arena's actor (`arenas/ray.py`)
turn the web layer's requests into calls here. Everything runs on
the server's event loop; the only work elsewhere is each game's plug-in, in
its own actor thread. A viewer is one open WebSocket: what it should show is
queued in its `Viewer` (latest arena part, latest board, flashes) and sent
by the viewer's own writer, so a slow browser never holds an arena up.

A change in an arena (someone joins, connects, leaves) re-sends each viewer the
small parts of the arena that depend on who they are (the head, the controls)
and only the members whose item in the list changed; the whole list goes only
to a viewer that connects. So a join costs O(members) bytes, not O(members²).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import jinja2

from wasmplug import Error

from .. import protocol
from ..catalogue.base import Catalogue
from ..errors import ArenaError, GameFailed
from ..game_logs import guard_plugin_logs
from ..game_session import GameLoader, GameSession, GameSlots
from ..sanitize import sanitize
from .state import Arena, Arenas, AssignsTooLarge, Member, Phase

log = logging.getLogger("wasmplug.gamebox")
TEMPLATES = Path(__file__).parent.parent / "templates"


def default_templates() -> jinja2.Environment:
    """GameBox's Jinja templates (the package's `templates/` folder), autoescaped."""
    return jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True)


MAX_PENDING_FLASHES = 16  # flashes waiting for a viewer who does not read: past this, it is dropped
DEFAULT_GAME_MEMORY_MB = 4096  # all running games' memory limits together


class Viewer:
    """One WebSocket of a member: the messages still to send, newest kept.

    The arena part, the board and a redirect are replaced by their newest
    version; flashes queue up, at most `MAX_PENDING_FLASHES`: a viewer who
    sends bad messages faster than it reads the answers is `overflowed`, and
    its connection is closed.
    """

    def __init__(self, name: str, send: Callable[[str], Awaitable[None]]) -> None:
        self.name = name
        self._send = send
        self._pending: dict[str, str] = {}
        # An arena change not sent yet: head, controls, members changed (name -> item, "": gone).
        self._delta: tuple[str, str, dict[str, str]] | None = None
        self._flashes = 0
        self._wake = asyncio.Event()
        self.closed = False
        self.overflowed = False

    def post(self, kind: str, text: str) -> None:
        if self.closed:
            return
        if kind == "flash":
            if sum(1 for key in self._pending if key.startswith("flash")) >= MAX_PENDING_FLASHES:
                self.overflowed = True
                return
            self._flashes += 1
            kind = f"flash{self._flashes}"
        elif kind == "arena":  # the whole arena part: changes queued before it are in it
            self._pending.pop("arena-delta", None)
            self._delta = None
        self._pending.pop(kind, None)  # the newer message replaces (and follows) the older
        self._pending[kind] = text
        self._wake.set()

    def post_arena_change(self, head: str, controls: str, members: dict[str, str]) -> None:
        """A change of the arena part; merged with one not sent yet (its members' items
        are kept, the newer item of a member wins), so at most one item per member waits."""
        if self.closed:
            return
        if self._delta is not None and "arena-delta" in self._pending:
            merged = self._delta[2]
            for name, item in members.items():
                merged.pop(name, None)
                merged[name] = item
            self._delta = (head, controls, merged)
        else:
            self._delta = (head, controls, dict(members))
            self._pending["arena-delta"] = ""  # (made into a message when sent)
        self._wake.set()

    async def run(self) -> None:
        """Send what is posted until closed."""
        while not self.closed:
            await self._wake.wait()
            self._wake.clear()
            pending, self._pending = self._pending, {}
            delta, self._delta = self._delta, None
            for kind, text in pending.items():
                if kind == "arena-delta" and delta is not None:
                    text = protocol.arena_change_message(*delta)
                await self._send(text)

    def close(self) -> None:
        self.closed = True
        self._wake.set()


class ArenaEngine:
    def __init__(self, catalogue: Catalogue, templates: jinja2.Environment, *,
                 arenas: Arenas | None = None, slots: GameSlots | None = None,
                 game_memory_mb: int = DEFAULT_GAME_MEMORY_MB) -> None:
        self.game_memory_mb = game_memory_mb  # the global budget of running games' memory
        guard_plugin_logs()  # games' log_* lines: escaped and rate-limited
        self.catalogue = catalogue
        self.slots = slots or GameSlots()
        self.templates = templates
        self.arenas = arenas or Arenas()
        self.loader = GameLoader(catalogue)
        self.sessions: dict[str, GameSession] = {}
        self.viewers: dict[str, dict[str, set[Viewer]]] = {}
        self.boards: dict[str, dict[str, tuple[Any, str]]] = {}  # code -> name -> (version, html)
        self.member_items: dict[str, dict[str, str]] = {}  # code -> name -> item last sent
        self.locks: dict[str, asyncio.Lock] = {}
        self.stopping: dict[threading.Thread, int] = {}  # games being stopped: thread -> memory MiB

    # -- arenas and members --------------------------------------------------
    def create_arena(self, name: str, owner: str = "") -> tuple[Arena, Member]:
        arena = self.arenas.create(owner)
        try:
            member = arena.join(name)
        except ArenaError:
            self.arenas.remove(arena.code)
            raise
        log.info("arena %s created by %s", arena.code, member.name)
        return arena, member

    async def join(self, code: str, name: str) -> tuple[Arena, Member]:
        arena = self.arenas.get(code)
        member = arena.join(name)
        log.info("arena %s: %s joined", arena.code, member.name)
        self.broadcast_arena(arena)
        return arena, member

    def _lock(self, arena: Arena) -> asyncio.Lock:
        return self.locks.setdefault(arena.code, asyncio.Lock())

    # -- what a viewer sees --------------------------------------------------
    def arena_html(self, arena: Arena, member: Member) -> str:
        """The whole arena part of `member`'s page (the member list included)."""
        return self._arena_part("_arena.html", arena, member)

    def _arena_part(self, template: str, arena: Arena, member: Member) -> str:
        return self.templates.get_template(template).render(
            arena=arena, me=member, games=self.catalogue.games(), Phase=Phase)

    def _items(self, arena: Arena) -> dict[str, str]:
        """Every member's item in the member list (the same for every viewer)."""
        template = self.templates.get_template("_member.html")
        return {name: template.render(arena=arena, name=name, member=member)
                for name, member in arena.members.items()}

    async def board_html(self, arena: Arena, member: Member) -> str:
        """The member's current board (rendered now if the cached one is old)."""
        if arena.phase != Phase.PLAYING or arena.code not in self.sessions:
            return ""
        cached = self.boards.get(arena.code, {}).get(member.name)
        if cached is not None and cached[0] == arena.version:
            return cached[1]
        async with self._lock(arena):
            await self._render_boards(arena, [member.name], send=False)
        cached = self.boards.get(arena.code, {}).get(member.name)
        return cached[1] if cached is not None and arena.phase == Phase.PLAYING else ""

    def broadcast_arena(self, arena: Arena) -> None:
        """Every viewer's arena part changed: each gets its head and controls, and the
        members whose item changed since the last broadcast (every viewer has at least
        that state: it had this broadcast's or connected since, with the whole part)."""
        items = self._items(arena)
        before = self.member_items.get(arena.code, {})
        self.member_items[arena.code] = items
        changed = {name: item for name, item in items.items() if before.get(name) != item}
        changed.update((name, "") for name in before if name not in items)
        for name, viewers in self.viewers.get(arena.code, {}).items():
            member = arena.members.get(name)
            if member is None or not viewers:
                continue
            head = self._arena_part("_arena_head.html", arena, member)
            controls = self._arena_part("_arena_controls.html", arena, member)
            for viewer in viewers:
                viewer.post_arena_change(head, controls, changed)

    def _post_board(self, arena: Arena, name: str, html: str) -> None:
        message = protocol.board_message(html, arena.version)
        for viewer in self.viewers.get(arena.code, {}).get(name, ()):
            viewer.post("board", message)

    async def _render_boards(self, arena: Arena, names: list[str] | None = None,
                             send: bool = True) -> None:
        """Render the game for `names` (default: every connected member) and send it."""
        session = self.sessions.get(arena.code)
        if session is None or arena.phase != Phase.PLAYING:
            return
        if names is None:
            names = [n for n, m in arena.members.items() if m.connections]
        if not names:
            return
        async with self.slots.slot():
            results = await session.render_many([arena.viewer_assigns(n) for n in names], sanitize)
        self._show_boards(arena, names, results, send)

    def _show_boards(self, arena: Arena, names: list[str], results: list[str | GameFailed],
                     send: bool = True) -> None:
        """Keep the new boards (and send them), or fail the game if a render failed."""
        boards = self.boards.setdefault(arena.code, {})
        for name, result in zip(names, results, strict=True):
            if isinstance(result, GameFailed):
                self._game_failed(arena, result)
                return
            boards[name] = (arena.version, result)
            if send:
                self._post_board(arena, name, result)

    def _game_failed(self, arena: Arena, error: GameFailed) -> None:
        message = str(error).rstrip(".")
        arena.fail(f"{message}. The host can restart the game or pick another.")
        self.boards.pop(arena.code, None)
        for viewers in self.viewers.get(arena.code, {}).values():
            for viewer in viewers:
                viewer.post("board", protocol.board_message("", arena.version))
        self.broadcast_arena(arena)

    # -- connections -----------------------------------------------------------
    async def connect(self, arena: Arena, member: Member, viewer: Viewer) -> None:
        arena.connected(member.name)
        self.viewers.setdefault(arena.code, {}).setdefault(member.name, set()).add(viewer)
        viewer.post("arena", protocol.arena_message(self.arena_html(arena, member)))
        viewer.post("board", protocol.board_message(await self.board_html(arena, member), arena.version))
        self.broadcast_arena(arena)

    def disconnect(self, arena: Arena, member: Member, viewer: Viewer) -> None:
        viewer.close()
        viewers = self.viewers.get(arena.code, {}).get(member.name)
        if viewers is not None:
            viewers.discard(viewer)
        arena.disconnected(member.name)
        if arena.members.get(member.name) is member:  # the others see them away at once
            self.broadcast_arena(arena)

    # -- messages from a viewer ------------------------------------------------
    async def handle(self, arena: Arena, member: Member, viewer: Viewer, text: str) -> None:
        try:
            message = protocol.parse_message(text)
            if isinstance(message, protocol.Event):
                await self.event(arena, member, message)
            else:
                await self.action(arena, member, message)
        except (ArenaError, protocol.ProtocolError) as exc:
            viewer.post("flash", protocol.flash_message(str(exc)))

    async def event(self, arena: Arena, member: Member, event: protocol.Event) -> None:
        arena.check_event(member.name)
        async with self._lock(arena):
            session = self.sessions.get(arena.code)  # the game may have changed while we waited
            if arena.phase != Phase.PLAYING or session is None:
                return
            try:  # handle_event and the re-renders it causes: one trip to the game's actor
                async with self.slots.slot():
                    assigns, views, results = await session.play(
                        protocol.game_event(member.name, event), arena.render_plan(member.name),
                        sanitize)
            except GameFailed as exc:
                self._game_failed(arena, exc)
                return
            except AssignsTooLarge as exc:
                self._game_failed(arena, GameFailed(session.info.title, "handle_event", str(exc)))
                return
            arena.merge_assigns(member.name, assigns)
            self._show_boards(arena, [name for name, _ in views], results)

    async def action(self, arena: Arena, member: Member, action: protocol.Action) -> None:
        name = member.name
        if action.name == "leave":
            await self.leave(arena, name)
            return
        async with self._lock(arena):
            if action.name == "select":
                arena.require_host(name, "pick the game")
                await self._select(arena, name, action.game)
            elif action.name == "start":
                arena.start(name)  # checks before the game is touched
                await self._start(arena)
            elif action.name == "restart":
                arena.require_host(name, "restart the game")
                arena.start(name)
                await self._start(arena, fresh=True)
            elif action.name == "lobby":
                arena.to_lobby(name)
                self._stop_game(arena)
        self.broadcast_arena(arena)

    async def _select(self, arena: Arena, host: str, game_id: str) -> None:
        try:
            info, compiled = await asyncio.to_thread(self.loader.load, game_id)
        except Error as exc:
            raise ArenaError(f"could not load game {game_id!r}: {exc}") from None
        self._stop_game(arena)
        self._check_memory(info.limits.memory_mb)
        # Instantiating the game is work too: not on the event loop. Meanwhile the arena
        # may be torn down, or other arenas may pick games: both are checked again after.
        session = await asyncio.to_thread(GameSession, info, compiled, arena.code)
        try:
            if self.arenas.arenas.get(arena.code) is not arena:
                raise ArenaError(f"arena {arena.code} has closed: create a new arena")
            self._check_memory(info.limits.memory_mb)
        except ArenaError:
            self.stopping[session.stop_soon()] = info.limits.memory_mb
            raise
        self.sessions[arena.code] = session
        arena.select(host, info, await session.constraints())
        log.info("arena %s: %s picked %s (%s)", arena.code, host, info.id,
                 arena.constraints.describe())

    def _check_memory(self, memory_mb: int) -> None:
        """ArenaError if a game of `memory_mb` would take the running games past the budget."""
        self.stopping = {thread: mb for thread, mb in self.stopping.items() if thread.is_alive()}
        in_use = sum(s.info.limits.memory_mb for s in self.sessions.values()) + sum(self.stopping.values())
        if in_use + memory_mb > self.game_memory_mb:
            raise ArenaError("the server is running as many games as its memory allows: "
                             "try again in a few minutes")

    async def _start(self, arena: Arena, fresh: bool = False) -> None:
        session = self.sessions[arena.code]
        try:
            if fresh:
                await session.restart()
            await session.init(arena.players)
        except GameFailed as exc:
            self._game_failed(arena, exc)
            return
        self.boards.pop(arena.code, None)
        log.info("arena %s: %s started with %s", arena.code, session.info.id, arena.players)
        played = getattr(self.catalogue, "played", None)  # catalogues that count plays
        if played is not None:
            await asyncio.to_thread(played, session.info.id)
        await self._render_boards(arena)

    def _stop_game(self, arena: Arena) -> None:
        # Stopped in a thread of its own (a game mid-call may take up to its time limit to
        # stop, and the event loop serves everyone else meanwhile).
        session = self.sessions.pop(arena.code, None)
        if session is not None:
            self.stopping = {thread: mb for thread, mb in self.stopping.items() if thread.is_alive()}
            self.stopping[session.stop_soon()] = session.info.limits.memory_mb
        self.boards.pop(arena.code, None)
        for viewers in self.viewers.get(arena.code, {}).values():
            for viewer in viewers:
                viewer.post("board", protocol.board_message("", None))

    async def leave(self, arena: Arena, name: str) -> None:
        arena.leave(name)
        log.info("arena %s: %s left", arena.code, name)
        for viewer in self.viewers.get(arena.code, {}).pop(name, set()):
            viewer.post("redirect", protocol.redirect_message("/"))
        self.broadcast_arena(arena)

    # -- housekeeping ------------------------------------------------------------
    def sweep(self) -> None:
        """Members away too long leave; arenas empty too long are torn down."""
        changed, removed = self.arenas.sweep()
        for arena in changed:
            log.info("arena %s: members away too long left; host is %s", arena.code, arena.host)
            self.broadcast_arena(arena)
        for arena in removed:
            log.info("arena %s torn down (empty)", arena.code)
            self._stop_game(arena)
            self.viewers.pop(arena.code, None)
            self.member_items.pop(arena.code, None)
            self.locks.pop(arena.code, None)

    async def reload_game(self, game_id: str) -> None:
        """New code for `game_id`: every arena playing it continues on it, state kept."""
        try:
            _, compiled = await asyncio.to_thread(self.loader.load, game_id)
        except Error as exc:
            log.warning("game %s: the new code does not load, keeping the old: %s", game_id, exc)
            return
        for code, session in list(self.sessions.items()):
            arena = self.arenas.arenas.get(code)
            if session.info.id != game_id or arena is None:
                continue
            async with self._lock(arena):
                try:
                    await session.restart(compiled, keep_vars=True)
                except Error as exc:
                    log.warning("arena %s: reloading %s failed: %s", code, game_id, exc)
                    continue
                log.info("arena %s: reloaded %s", code, game_id)
                self.boards.pop(code, None)
                await self._render_boards(arena)

    def close(self) -> None:
        """Stop every game (all at once, each in its own thread) and wait for them."""
        for session in self.sessions.values():
            self.stopping[session.stop_soon()] = session.info.limits.memory_mb
        self.sessions.clear()
        for thread in list(self.stopping):
            thread.join()
        self.stopping.clear()
