"""Plug-ins in JavaScript, with nothing to install but pip.

wasmplug's own JavaScript runtime is QuickJS-ng compiled to a wasm32-wasi
Extism plug-in, with the official JS PDK's API (`Host`, `Var`, `Config`,
`Http`, `console`, `TextEncoder`/`TextDecoder`). It is built once per machine
on first use (see `prebuilt`); turning a JS file into a plug-in is then a
pure-Python edit of that binary::

    import wasmplug
    from wasmplug import js

    js.build_file("game.js", "game.wasm")          # or: wasmplug js build game.js -o game.wasm
    with wasmplug.Plugin("game.wasm", wasi=True) as game:
        game.call("render", "{}")

Untrusted code goes through :class:`Sandbox`.
"""

from .embed import FuncType, is_js_plugin
from .errors import BuildError, JSError
from .interface import host_functions_from_dts, read_interface
from .plugin_build import build, build_file, exports_of, manifest_for, with_heap_limit
from .prebuilt import (
    RuntimeMissing,
    bare_runtime_bytes,
    bare_runtime_path,
    build_base_bytes,
    runtime_bytes,
    runtime_path,
)
from .sandbox import Sandbox

__all__ = [
    "BuildError",
    "FuncType",
    "JSError",
    "RuntimeMissing",
    "Sandbox",
    "bare_runtime_bytes",
    "bare_runtime_path",
    "build",
    "build_base_bytes",
    "build_file",
    "exports_of",
    "host_functions_from_dts",
    "is_js_plugin",
    "manifest_for",
    "read_interface",
    "runtime_bytes",
    "runtime_path",
    "with_heap_limit",
]
