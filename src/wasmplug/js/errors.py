"""Errors of the JavaScript layer."""

from __future__ import annotations

import re

import wasmplug

_FRAME = re.compile(r"(?:\(|\bat )([^()\s]+?):(\d+)(?::(\d+))?")


class JSError(wasmplug.Error):
    """JavaScript threw (or failed to compile): the JS message, stack and line.

    Attributes:
        message: the first line, e.g. ``TypeError: x is not a function``.
        stack: the JS stack (``at f (game.js:3:11)`` lines), may be empty.
        filename, line, column: where it was thrown in the user's code
            (the innermost frame in `filename`), or None if unknown.
    """

    def __init__(self, text: str, *, filename: str | None = None) -> None:
        super().__init__(text)
        self.message, _, self.stack = text.partition("\n")
        self.filename: str | None = None
        self.line: int | None = None
        self.column: int | None = None
        for frame in _FRAME.finditer(text):
            name, line, column = frame.group(1), frame.group(2), frame.group(3)
            if filename is None or name == filename:
                self.filename, self.line = name, int(line)
                self.column = int(column) if column else None
                break


class BuildError(wasmplug.Error):
    """A JS file could not be turned into a plug-in (the message says why)."""


def from_call_error(exc: wasmplug.CallError, filename: str) -> wasmplug.Error:
    """A JSError for a failure the runtime reported (rc 1 with a message); others unchanged."""
    if exc.code == 1 and exc.limit is None:
        return JSError(str(exc), filename=filename)
    return exc
