"""The exception hierarchy: everything wasmplug raises derives from `Error`."""

from __future__ import annotations


class Error(Exception):
    """Raised for every failed plug-in creation or call (as `extism.Error`).

    `str(error)` is the message alone; for a failed call that is exactly the
    text the plug-in set with `error_set`, or the reason the call stopped.
    """


class ManifestError(Error):
    """The manifest is malformed: the message names the field and the fix."""


class LoadError(Error):
    """A module could not be read, verified, compiled or linked."""


class CallError(Error):
    """A plug-in call failed.

    Attributes:
        function: the export that was called.
        code: the plug-in's return code, 134 for a trap or timeout, -1 when
            the call never ran to a return code (missing export, host error).
    """

    def __init__(self, message: str, *, function: str = "", code: int = -1) -> None:
        super().__init__(message)
        self.function = function
        self.code = code


class CallTimeout(CallError):
    """The call ran past `timeout_ms` or was cancelled through a cancel handle."""
