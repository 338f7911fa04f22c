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
        limit: when a limit stopped the call, its name ("timeout_ms",
            "fuel_limit", "memory.max_pages", "memory.max_var_bytes",
            "memory.max_http_response_bytes", "memory.max_output_bytes"),
            else None; `limit_value` is its value.
    """

    def __init__(self, message: str, *, function: str = "", code: int = -1,
                 limit: str | None = None, limit_value: int | None = None) -> None:
        super().__init__(message)
        self.function = function
        self.code = code
        self.limit = limit
        self.limit_value = limit_value


class CallTimeout(CallError):
    """The call ran past `timeout_ms` or was cancelled through a cancel handle."""


def name_list(names: list[str], shown: int = 10) -> str:
    """`a, b, c`, or the first `shown` names and "… and 99,990 more"."""
    if len(names) <= shown:
        return ", ".join(names)
    return f"{', '.join(names[:shown])} … and {len(names) - shown:,} more"
