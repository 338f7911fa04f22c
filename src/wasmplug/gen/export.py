"""`wasmplug gen export`: a saved function as a standalone Extism plug-in."""

from __future__ import annotations

from pathlib import Path

from .errors import GenError
from .store import Function


def export_plugin(function: Function, output: Path) -> None:
    raise GenError("export needs the JavaScript runtime, which is not wired in yet")
