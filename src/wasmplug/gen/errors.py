"""What the utility maker raises: every error is a `wasmplug.Error`."""

from __future__ import annotations

from wasmplug import Error


class GenError(Error):
    """The utility maker could not do what was asked; the message says why and what to do."""


class ApiError(GenError):
    """The chat-completions API failed or refused the request.

    `status` is the HTTP status code (None when the server could not be reached
    or its answer could not be read).
    """

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class NotFound(GenError):
    """No saved function has that name."""


class GenerationFailed(GenError):
    """No attempt produced JavaScript that compiles; `attempts` holds each attempt's problem."""

    def __init__(self, message: str, attempts: list[str]) -> None:
        super().__init__(message)
        self.attempts = attempts


class RunError(GenError):
    """A generated function failed: it threw, did not compile, or hit a limit.

    `line` is the line of the generated code where JavaScript threw (None if
    unknown); `limit` names the limit that stopped it ("timeout", "memory",
    "fuel", "output", "network"), else None.
    """

    def __init__(self, message: str, *, line: int | None = None, limit: str | None = None) -> None:
        super().__init__(message)
        self.line = line
        self.limit = limit
