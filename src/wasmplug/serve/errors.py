"""The serve application's errors: each carries the HTTP status and the `kind` its JSON reply names."""

from __future__ import annotations

from wasmplug import Error


class ServeError(Error):
    """A request refused or failed: `status` is the HTTP status, `kind` the reply's machine-readable
    reason (`bad_request`, `not_found`, `too_large`, `saturated`, `timeout`, `plugin_error`, ...)."""

    def __init__(self, message: str, *, status: int = 400, kind: str = "bad_request",
                 retry_after: float | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.kind = kind
        self.retry_after = retry_after


class DeployRejected(ServeError):
    """A deploy whose settings or module cannot take traffic (the message says what to change)."""

    def __init__(self, message: str, *, kind: str = "invalid_deploy") -> None:
        super().__init__(message, status=400, kind=kind)
