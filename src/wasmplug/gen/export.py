"""`wasmplug gen export`: a saved function as a standalone Extism plug-in.

The plug-in is wasmplug's JavaScript runtime with the wrapped function
embedded (`wasmplug.js.build`, no compiler involved). Its one export, `run`,
reads the input as a string and outputs the function's result exactly as
`wasmplug gen run` prints it. It needs WASI (as every wasmplug JS plug-in),
and gets no network unless the host's manifest allows hosts.
"""

from __future__ import annotations

from pathlib import Path

from wasmplug.js import build

from .errors import GenError
from .sandbox import FILENAME, RUN, wrap
from .store import Function

EXPORT = "run"


def plugin_source(function: Function) -> str:
    """The JavaScript of the exported plug-in: the wrapped function plus its `run` export."""
    return wrap(function.code) + f"function {EXPORT}() {{\n  return {RUN}(Host.inputString());\n}}\n"


def export_plugin(function: Function, output: str | Path) -> Path:
    """Write `function` as a plug-in with the export `run` to `output`; returns the path."""
    path = Path(output)
    wasm = build(plugin_source(function), filename=FILENAME, kind="s", exports=[EXPORT])
    try:
        path.write_bytes(wasm)
    except OSError as exc:
        raise GenError(f"cannot write {path}: {exc.strerror}") from None
    return path
