"""GameBox's errors: every one is a `wasmplug.Error` whose message says what to do."""

from __future__ import annotations

from wasmplug import Error
from wasmplug.web import errors as web_errors


class GameBoxError(Error):
    """Base of GameBox's errors."""


class ArenaError(GameBoxError):
    """A request the arena's rules refuse (bad name, not the host, no such arena...)."""


class NoSuchArena(ArenaError):
    """No arena has that code (a mistyped code, an arena torn down, or a guess)."""


class UnknownGame(GameBoxError):
    """The catalogue has no game with that id."""


class GameFailed(GameBoxError):
    """A game's plug-in failed in one of its calls (trap, timeout, limit, bad output).

    `game` is the game's title, `function` the export that failed, `reason`
    what went wrong.
    """

    def __init__(self, game: str, function: str, reason: str) -> None:
        super().__init__(f'The game "{game}" failed in {function}: {reason}')
        self.game = game
        self.function = function
        self.reason = reason


class UploadRejected(GameBoxError):
    """An upload GameBox refuses; `reasons` lists every reason at once."""

    def __init__(self, reasons: list[str]) -> None:
        super().__init__("the upload was rejected: " + "; ".join(reasons))
        self.reasons = reasons


class AccessDenied(GameBoxError, web_errors.AccessDenied):
    """Not signed in, not allowed (another user's game, not an admin) or banned."""
