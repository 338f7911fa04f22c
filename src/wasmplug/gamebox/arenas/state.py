"""Arenas: who is in a room, who hosts it, which game is picked and who plays.

This is the pure state machine (no I/O, no game calls): `Arena` enforces the
rules, `Arenas` creates, finds and tears down arenas. The arena engine
(`engine.py`) calls it from one event loop, so it needs no locks.

Phases: LOBBY (no game) -> SELECTED (a game picked, its constraints known)
-> PLAYING (started with the first `max_players` members in join order; the
rest watch) -> FAILED (the game's plug-in failed; the host restarts it or
picks another). Only the host may pick, start, restart or go back to the
lobby; when the host leaves, the member who joined next becomes host.
"""

from __future__ import annotations

import itertools
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from wasmplug.web.names import display_name, lookalike

from ..catalogue.base import GameInfo
from ..errors import ArenaError, NoSuchArena

CONSONANTS = "BCDFGHJKLMNPQRSTVWXZ"
CODE_LENGTH = 6  # 20**6 = 64 million codes (guessing is also limited per address: views/arena.py)
NAME_MIN, NAME_MAX = 2, 12
# Keys of a viewer's assigns that belong to the platform: a game's
# handle_event output never overwrites them.
PLATFORM_KEYS = frozenset({"player_id", "spectator"})
MAX_ASSIGNS_BYTES = 64 * 1024  # one handle_event output
MAX_MEMBER_ASSIGNS_KEYS = 64  # what a member's assigns may hold in all, merged over events
MAX_MEMBER_ASSIGNS_BYTES = 64 * 1024
MAX_MEMBERS = 100  # per arena: players (at most 64) and spectators
MAX_ARENAS = 500  # per server
MAX_ARENAS_PER_OWNER = 5  # live arenas created from one client address (or one account)


class Phase(StrEnum):
    LOBBY = "lobby"
    SELECTED = "selected"
    PLAYING = "playing"
    FAILED = "failed"


@dataclass(frozen=True)
class Constraints:
    min_players: int = 2
    max_players: int = 2

    def describe(self) -> str:
        if self.min_players == self.max_players:
            return f"{self.min_players} players"
        return f"{self.min_players}-{self.max_players} players"


_order = itertools.count()


@dataclass
class Member:
    """Someone in an arena (player or spectator), known by name and a secret token."""

    name: str
    token: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    order: int = field(default_factory=lambda: next(_order))
    connections: int = 0
    away_since: float | None = None  # when the last connection closed (or joined, never connected)
    assigns: dict[str, Any] = field(default_factory=dict)  # the game's assigns for this viewer


def normalise_code(code: str) -> str:
    return code.strip().upper()


def check_name(name: str) -> str:
    """The display name, NFKC-normalised and trimmed; ArenaError if it is not 2-12 visible characters."""
    return display_name(name, NAME_MIN, NAME_MAX, ArenaError)


class Arena:
    def __init__(self, code: str, clock: Callable[[], float] = time.monotonic) -> None:
        self.code = code
        self.clock = clock
        self.members: dict[str, Member] = {}  # in join order
        self.host: str | None = None
        self.phase = Phase.LOBBY
        self.game: GameInfo | None = None
        self.constraints = Constraints()
        self.players: list[str] = []  # the game's player_ids, in join order
        self.seats: dict[str, str] = {}  # player_id -> the token of the member who has that seat
        self.version: Any = None  # the game's current version
        self.notice = ""  # shown to everyone (a failed game, who took over as host...)
        self.empty_since: float | None = clock()

    # -- members -------------------------------------------------------------
    def join(self, name: str) -> Member:
        name = check_name(name)
        if lookalike(name, self.members) is not None:  # the same, or confusable (b0b, Cyrillic letters...)
            raise ArenaError(f"the name {name!r} is taken in arena {self.code}: choose another")
        if len(self.members) >= MAX_MEMBERS:
            raise ArenaError(f"arena {self.code} is full ({MAX_MEMBERS} members): create a new arena")
        member = Member(name, away_since=self.clock())
        self.members[name] = member
        if self.host is None:
            self.host = name
        self.empty_since = None
        return member

    def leave(self, name: str) -> None:
        if self.members.pop(name, None) is None:
            return
        if self.host == name:
            self.host = next(iter(self.members), None)
            if self.host is not None:
                self.notice = f"{name} left; {self.host} is the host now."
        if not self.members:
            self.empty_since = self.clock()

    def member(self, name: str) -> Member:
        try:
            return self.members[name]
        except KeyError:
            raise ArenaError(f"{name} is not in arena {self.code}: join it first") from None

    def connected(self, name: str) -> None:
        member = self.member(name)
        member.connections += 1
        member.away_since = None

    def disconnected(self, name: str) -> None:
        member = self.members.get(name)
        if member is not None:
            member.connections = max(0, member.connections - 1)
            if member.connections == 0:
                member.away_since = self.clock()

    def is_host(self, name: str) -> bool:
        return name == self.host

    def require_host(self, name: str, action: str) -> None:
        if not self.is_host(name):
            raise ArenaError(f"only the host ({self.host}) can {action}")

    def seated(self, name: str) -> bool:
        """Whether `name` holds a seat of the game: the member who was given it, not a namesake."""
        member = self.members.get(name)
        seat = self.seats.get(name)
        return member is not None and seat is not None and secrets.compare_digest(seat, member.token)

    def role(self, name: str) -> str:
        if self.phase in (Phase.PLAYING, Phase.FAILED) and not self.seated(name):
            return "spectator"
        return "player"

    def spectators(self) -> list[str]:
        return [name for name in self.members if self.role(name) == "spectator"]

    # -- the game's life -----------------------------------------------------
    def select(self, name: str, game: GameInfo, constraints: Constraints) -> None:
        self.require_host(name, "pick the game")
        self.game, self.constraints = game, constraints
        self.phase = Phase.SELECTED
        self.players, self.seats, self.version, self.notice = [], {}, None, ""
        for member in self.members.values():
            member.assigns = {}

    def can_start(self) -> bool:
        return self.game is not None and len(self.members) >= self.constraints.min_players

    def start(self, name: str) -> list[str]:
        """Start (or restart) the picked game; returns its player_ids."""
        self.require_host(name, "start the game")
        if self.game is None:
            raise ArenaError("pick a game first")
        if len(self.members) < self.constraints.min_players:
            raise ArenaError(f"{self.game.title} needs at least {self.constraints.min_players} "
                             f"players; {len(self.members)} are here: invite more")
        self.players = list(self.members)[: self.constraints.max_players]
        self.seats = {name: self.members[name].token for name in self.players}
        self.phase = Phase.PLAYING
        self.version, self.notice = 0, ""
        for member in self.members.values():
            member.assigns = {}
        return list(self.players)

    def to_lobby(self, name: str) -> None:
        self.require_host(name, "go back to the lobby")
        self.phase, self.game, self.players, self.version, self.notice = Phase.LOBBY, None, [], None, ""
        self.seats = {}

    def fail(self, message: str) -> None:
        self.phase = Phase.FAILED
        self.notice = message

    def check_event(self, name: str) -> None:
        """ArenaError unless `name` may send the game an event now."""
        if self.phase != Phase.PLAYING:
            raise ArenaError("the game is not running")
        if not self.seated(name):
            raise ArenaError("you are watching this game: spectators cannot play")

    def merge_assigns(self, name: str, assigns: dict[str, Any]) -> bool:
        """Merge handle_event's output into `name`'s assigns; True if the version changed."""
        member = self.member(name)
        member.assigns = merged_assigns(member.assigns, assigns)
        changed = bool(assigns["version"] != self.version)
        self.version = assigns["version"]
        return changed

    def viewer_assigns(self, name: str) -> dict[str, Any]:
        """What `render` gets for this viewer."""
        member = self.members.get(name)
        extra = member.assigns if member is not None else {}
        return _view(extra, name, self.version, self.role(name) == "spectator")

    def render_plan(self, sender: str) -> Callable[[dict[str, Any]], list[tuple[str, dict[str, Any]]]]:
        """Who is re-rendered, and with what, once `sender`'s event is handled.

        The returned function takes handle_event's output and gives each
        viewer to re-render with their `render` input (name, input): every connected member
        (in join order) when the version changes, else the sender alone;
        `merge_assigns` with the same output then makes the arena agree. It
        reads only a snapshot taken now, so the game's own thread may call it.
        """
        version = self.version
        viewers = {name: (dict(member.assigns), self.role(name) == "spectator")
                   for name, member in self.members.items() if member.connections or name == sender}

        def plan(output: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
            new_version = output["version"]
            changed = bool(new_version != version)
            views = []
            for name, (extra, spectator) in viewers.items():
                if name == sender:
                    views.append((name, _view(merged_assigns(extra, output), name, new_version,
                                              spectator)))
                elif changed:
                    views.append((name, _view(extra, name, new_version, spectator)))
            return views

        return plan


def _game_keys(output: dict[str, Any]) -> dict[str, Any]:
    """The part of handle_event's output that goes into the sender's assigns."""
    return {key: value for key, value in output.items()
            if key not in PLATFORM_KEYS and key != "version"}


def merged_assigns(assigns: dict[str, Any], output: dict[str, Any]) -> dict[str, Any]:
    """A member's assigns with handle_event's `output` merged in; ArenaError past the caps
    (`MAX_MEMBER_ASSIGNS_KEYS` keys, `MAX_MEMBER_ASSIGNS_BYTES` bytes as JSON)."""
    merged = {**assigns, **_game_keys(output)}
    if len(merged) > MAX_MEMBER_ASSIGNS_KEYS:
        raise AssignsTooLarge(f"a member's assigns may hold at most {MAX_MEMBER_ASSIGNS_KEYS} keys, "
                              f"the game's events made {len(merged)}")
    size = len(json.dumps(merged))
    if size > MAX_MEMBER_ASSIGNS_BYTES:
        raise AssignsTooLarge(f"a member's assigns may hold at most {MAX_MEMBER_ASSIGNS_BYTES} bytes, "
                              f"the game's events made {size}")
    return merged


class AssignsTooLarge(ArenaError):
    """The assigns a game gave a member grew past their caps (the game fails)."""


SPECTATOR_ID = ""  # the player_id spectators are rendered with: one render serves them all


def _view(extra: dict[str, Any], name: str, version: Any, spectator: bool) -> dict[str, Any]:
    return {**extra, "player_id": SPECTATOR_ID if spectator else name, "version": version,
            "spectator": spectator}


class Arenas:
    """Every arena of a server, by code.

    A member away (no open connection) for `leave_after` seconds leaves; an
    arena left empty for `teardown_after` seconds is torn down (`sweep`).
    At most `max_arenas` live at once, and `max_per_owner` of one owner.
    """

    def __init__(self, *, leave_after: float = 30.0, teardown_after: float = 60.0,
                 clock: Callable[[], float] = time.monotonic, max_arenas: int = MAX_ARENAS,
                 max_per_owner: int = MAX_ARENAS_PER_OWNER) -> None:
        self.max_arenas, self.max_per_owner = max_arenas, max_per_owner
        self.leave_after = leave_after
        self.teardown_after = teardown_after
        self.clock = clock
        self.arenas: dict[str, Arena] = {}
        self.owners: dict[str, str] = {}  # code -> who created it (a client address or an account)

    def create(self, owner: str = "") -> Arena:
        """A new arena; ArenaError past `max_arenas`, or past `max_per_owner` live arenas of `owner`."""
        if len(self.arenas) >= self.max_arenas:
            raise ArenaError("the server has as many arenas as it can hold: try again later")
        self.check_owner(owner)
        for _ in range(1000):
            code = "".join(secrets.choice(CONSONANTS) for _ in range(CODE_LENGTH))
            if code not in self.arenas:
                arena = self.arenas[code] = Arena(code, self.clock)
                if owner:
                    self.owners[code] = owner
                return arena
        raise ArenaError("no free arena code left: try again later")

    def check_owner(self, owner: str) -> None:
        """ArenaError if `owner` ("": nobody's) has `max_per_owner` live arenas already."""
        if owner and sum(1 for who in self.owners.values() if who == owner) >= self.max_per_owner:
            raise owner_full(self.max_per_owner)

    def remove(self, code: str) -> None:
        self.arenas.pop(code, None)
        self.owners.pop(code, None)

    def get(self, code: str) -> Arena:
        arena = self.arenas.get(normalise_code(code))
        if arena is None:
            raise NoSuchArena(f"there is no arena {normalise_code(code)!r}: check the code, "
                             "or create a new arena")
        return arena

    def by_token(self, code: str, token: str | None) -> tuple[Arena, Member] | None:
        arena = self.arenas.get(normalise_code(code))
        if arena is None or not token:
            return None
        for member in arena.members.values():
            if secrets.compare_digest(member.token, token):
                return arena, member
        return None

    def sweep(self) -> tuple[list[Arena], list[Arena]]:
        """Let long-away members leave and tear down long-empty arenas.

        Returns (arenas whose members changed, arenas torn down).
        """
        now = self.clock()
        changed, removed = [], []
        for code, arena in list(self.arenas.items()):
            gone = [m.name for m in arena.members.values()
                    if m.away_since is not None and now - m.away_since >= self.leave_after]
            for name in gone:
                arena.leave(name)
            if arena.empty_since is not None and now - arena.empty_since >= self.teardown_after:
                self.remove(code)
                removed.append(arena)
            elif gone:
                changed.append(arena)
        return changed, removed


def owner_full(limit: int) -> ArenaError:
    """The refusal of an owner's arena past `limit` (every backend says the same)."""
    return ArenaError(f"you have {limit} arenas open already: use one of them, or wait until one closes")
