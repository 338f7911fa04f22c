"""The extension host's errors: one hierarchy rooted at `ExtensionError`.

`ExtensionError` is a `wasmplug.Error`, so `except wasmplug.Error` catches
everything the host raises. Each error says which extension (and method) it is
about in `extension` (and `method`).
"""

from __future__ import annotations

from .. import Error


class ExtensionError(Error):
    """Base of every extension host error."""

    def __init__(self, message: str, *, extension: str | None = None,
                 method: str | None = None) -> None:
        super().__init__(message)
        self.extension = extension
        self.method = method


class ExtensionConfigError(ExtensionError):
    """The TOML configuration is wrong: `file`, `extension` and `key` say where."""

    def __init__(self, message: str, *, file: str, extension: str | None = None,
                 key: str | None = None) -> None:
        where = file
        if extension is not None:
            where += f": extension {extension!r}"
        if key is not None:
            where += f": key '{key}'"
        super().__init__(f"{where}: {message}", extension=extension)
        self.file = file
        self.key = key


class ExtensionNotFound(ExtensionError):
    """No extension of that name is configured (or it was removed)."""


class ExtensionNotReady(ExtensionError):
    """The extension exists but cannot take calls (loading, failed, restarting, unloaded)."""

    def __init__(self, message: str, *, extension: str, state: str,
                 reason: str | None = None) -> None:
        super().__init__(message, extension=extension)
        self.state = state
        self.reason = reason


class MethodNotOffered(ExtensionError):
    """The extension's capabilities do not include the method."""


class InvalidParams(ExtensionError):
    """The params do not match the capability's params_schema (or are not JSON)."""


class InvalidResult(ExtensionError):
    """The extension answered something that is not JSON or breaks its return_schema."""


class ExtensionCallFailed(ExtensionError):
    """The call failed; `str(error)` is the extension's own error text."""


class ExtensionTimeout(ExtensionCallFailed):
    """The call ran past the extension's max_execution_time."""


class PermissionDenied(ExtensionCallFailed):
    """The extension asked for something its permissions do not grant (e.g. a host)."""


class ExtensionCrashed(ExtensionCallFailed):
    """The extension trapped or hit a limit (memory, fuel); it is restarted per its policy."""
