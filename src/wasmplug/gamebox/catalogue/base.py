"""The catalogue: which games can be played, and their limits (the interface).

`Catalogue` is what the rest of GameBox uses. Two catalogues implement it:
`folders.DirectoryCatalogue` (games in folders: the bundled ones, a data dir,
the file `gamebox play` watches) and `database.DatabaseCatalogue` (uploaded
games in the database, the bundled ones listed first). Another catalogue only
has to offer the same three methods.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from .. import descriptions
from ..errors import GameBoxError


@dataclass(frozen=True)
class GameLimits:
    """What one call of a game may use. Defaults: 64 MiB of memory, 1 s per call."""

    memory_mb: int = 64
    timeout_ms: int = 1000
    max_render_bytes: int = 256 * 1024

    def __post_init__(self) -> None:
        for name in ("memory_mb", "timeout_ms", "max_render_bytes"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise GameBoxError(f"game limit {name} must be a positive integer, got {value!r}")


@dataclass(frozen=True)
class GameInfo:
    """A game of the catalogue: `id` is what arenas refer to it by."""

    id: str
    title: str
    description: str = ""
    limits: GameLimits = field(default_factory=GameLimits)

    @property
    def summary(self) -> str:
        """The description's first words as plain text (what the arena's picker shows)."""
        return descriptions.summary(self.description)


class Catalogue(Protocol):
    def games(self) -> list[GameInfo]:
        """Every game, in the order to show them."""
        ...

    def get(self, game_id: str) -> GameInfo:
        """The game `game_id`, or `UnknownGame`."""
        ...

    def load(self, game_id: str) -> bytes:
        """The game's current Wasm code."""
        ...
