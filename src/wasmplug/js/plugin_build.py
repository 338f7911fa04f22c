"""Turn JavaScript into an Extism plug-in: `wasmplug js build game.js -o game.wasm`.

No compiler runs: the prebuilt runtime is copied and edited (see `embed`).
The exports of the result are the functions the JS module exports (found by
evaluating the module once in the runtime itself), called with no arguments
in the JS PDK's style: they read `Host.inputString()` and write with
`Host.outputString(...)` (or return the output; a returned number is the
return code).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import wasmplug

from . import embed, prebuilt
from .embed import FuncType
from .errors import BuildError, from_call_error
from .interface import Interface, export_types, host_function_types, parse_host_function

_lock = threading.Lock()
_compiled: tuple[str, wasmplug.CompiledPlugin] | None = None


def runtime_plugin(**manifest: object) -> wasmplug.Plugin:
    """A plug-in of the bare runtime (its `__wasmplug_load` / `__wasmplug_invoke` entry points)."""
    wasm = str(prebuilt.bare_runtime_path())
    if manifest:
        return wasmplug.Plugin({"wasm": [{"path": wasm}], **manifest}, wasi=True)
    global _compiled
    with _lock:
        if _compiled is None or _compiled[0] != wasm:
            _compiled = (wasm, wasmplug.CompiledPlugin({"wasm": [{"path": wasm}]}, wasi=True))
        compiled = _compiled[1]
    return wasmplug.Plugin(compiled)


def load_request(source: str | bytes, filename: str, kind: str = "?") -> bytes:
    """The input of `__wasmplug_load`: kind, file name, NUL, source."""
    raw = source.encode() if isinstance(source, str) else bytes(source)
    if b"\0" in filename.encode():
        raise BuildError("the file name must not contain NUL characters")
    return kind.encode() + filename.encode() + b"\0" + raw


def exports_of(source: str | bytes, *, filename: str = "plugin.js", kind: str = "?") -> list[str]:
    """The names of the functions `source` exports (ES `export` or CommonJS `module.exports`)."""
    plugin = runtime_plugin(timeout_ms=10_000)
    with plugin:
        try:
            listing: bytes = plugin.call("__wasmplug_load", load_request(source, filename, kind))
        except wasmplug.CallError as exc:
            raise from_call_error(exc, filename) from None
    return listing_names(listing)[0]


TOP_LEVEL = "\x01"  # in __wasmplug_load's listing: the exports come before it, top-level functions after


def listing_names(listing: bytes) -> tuple[list[str], list[str]]:
    """(exported functions, functions defined at the top level) of a __wasmplug_load listing."""
    lines = listing.decode().split("\n")
    cut = lines.index(TOP_LEVEL) if TOP_LEVEL in lines else len(lines)
    return [n for n in lines[:cut] if n], [n for n in lines[cut + 1:] if n]


def build(source: str | bytes, *, filename: str = "plugin.js", kind: str = "?",
          exports: list[str] | None = None, host_functions: Sequence[str | FuncType] = (),
          interface: Interface | None = None) -> bytes:
    """The Wasm plug-in for `source` (JS module text or a bundle).

    `exports`: the functions to export (default: every function the module
    exports). `kind`: "m" ES module, "s" script/CommonJS, "?" decide: a script
    if the code compiles as one, else a module (QuickJS's parser decides, so
    `export` in a comment or a string does not make a module).
    `host_functions`: the host functions the code calls through
    `Host.getFunctions()` (at most 64), imported as `extism:host/user.<name>`:
    a bare name has the JS PDK's type `(I64) -> I64` (they take and return the
    offset of a memory block: `Memory.fromString(...)`, `Memory.find(offset)`);
    a signature such as ``"add(I32, F64): I64"`` or ``"note(I64): void"`` gives
    its own types.
    `interface`: an extism-js interface file, read (`wasmplug.js.read_interface`):
    its host functions come first, and its exports declared with parameters or
    a result other than I32 are built with that signature (the JS function gets
    the arguments, I64 as BigInt, and its result is converted).
    """
    raw = source.encode() if isinstance(source, str) else bytes(source)
    from_interface = host_function_types(interface) if interface is not None else []
    given = [parse_host_function(spec) for spec in host_functions]
    for func in given:  # also named in the interface: the same function, if it has the same type
        same = next((f for f in from_interface if f.name == func.name), None)
        if same is not None and same != func:
            raise BuildError(f"host function {func.name} is declared as {same} in the interface "
                             f"and as {func} with --host-function")
    declared = from_interface + [f for f in given if f not in from_interface]
    typed = export_types(interface) if interface is not None else {}
    names = exports if exports is not None else exports_of(raw, filename=filename, kind=kind)
    if not names:
        raise BuildError(f"{filename} exports no functions: use `export function name() {{...}}` "
                         "or `module.exports = { name }`")
    for name in names:
        if not name or "\n" in name or "\0" in name:
            raise BuildError(f"{name!r} cannot be a Wasm export name")
    try:
        blob = embed.make_blob(raw, names, kind=kind, filename=filename, host_functions=declared)
        return embed.embed(prebuilt.build_base_bytes(), blob, names, declared, typed)
    except embed.EmbedError as exc:
        raise BuildError(f"cannot embed {filename}: {exc}") from None


def build_file(path: str | Path, output: str | Path | None = None, *,
               host_functions: Sequence[str | FuncType] = ()) -> Path:
    """Build `path` (game.js) into `output` (default: game.wasm beside it); the output path."""
    src = Path(path)
    try:
        source = src.read_bytes()
    except OSError as exc:
        raise BuildError(f"cannot read {src}: {exc.strerror}") from None
    out = Path(output) if output is not None else src.with_suffix(".wasm")
    wasm = build(source, filename=src.name, host_functions=host_functions)
    out.write_bytes(wasm)
    return out


def manifest_for(path: str | Path, **manifest: object) -> dict[str, object]:
    """A manifest running the JS file at `path` (built in memory): `Plugin(manifest_for("g.js"), wasi=True)`.

    Meant for tools that accept a .js wherever a .wasm goes (`wasmplug call game.js ...`).
    The built plug-in is kept on disk (`wasmplug.js.built`): the next process loads it by path.
    A `memory.max_pages` given here also becomes the JS heap limit (`with_heap_limit`).
    """
    from .built import built_path

    src = Path(path)
    try:
        source = src.read_bytes()
    except OSError as exc:
        raise BuildError(f"cannot read {src}: {exc.strerror}") from None
    # built once, then loaded as a file (js/built.py)
    kept = built_path(source, src.name, lambda: build(source, filename=src.name))
    wasm: dict[str, object] = {"path": str(kept)} if kept else {"data": build(source, filename=src.name)}
    return with_heap_limit({"wasm": [wasm], **manifest})


HEAP_LIMIT_KEY = "wasmplug.js.max_memory"
WASM_STACK_KEY = "wasmplug.js.wasm_stack"
#: The native stack wasmplug gives one Wasm call (its engine's max_wasm_stack).
WASMPLUG_WASM_STACK = 1536 * 1024


def with_heap_limit(manifest: dict[str, Any]) -> dict[str, Any]:
    """`manifest` with what the JS runtime cannot see told to it in config (a new dict).

    * `memory.max_pages` (config `wasmplug.js.max_memory`, in bytes): the runtime
      caps the JS heap below it, so a memory hog gets a catchable
      `InternalError: out of memory` from the first time on. (Without it the
      first hog fails its call with `oom`, and the runtime then caps the heap
      below the size that failed, so the plug-in stays usable.)
    * the Wasm stack wasmplug runs calls with (config `wasmplug.js.wasm_stack`):
      QuickJS's recursion limit is sized from it (without it: from wasmtime's
      default 512 KiB, the official SDK's), so deep recursion is a catchable
      `RangeError` instead of a trap.
    Values already in the manifest's config are kept.
    """
    memory = manifest.get("memory")
    max_pages = memory.get("max_pages") if isinstance(memory, dict) else None
    config = manifest.get("config")
    added = {WASM_STACK_KEY: str(WASMPLUG_WASM_STACK)}
    if isinstance(max_pages, int):
        added[HEAP_LIMIT_KEY] = str(max_pages * 65536)
    return {**manifest, "config": {**added, **(config if isinstance(config, dict) else {})}}
