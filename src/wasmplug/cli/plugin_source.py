"""What PLUGIN names on the command line, as a manifest (the JSON shape).

PLUGIN is a `.wasm` / `.wat` / `.js` file, an `http(s)://` URL, or (with `-m`, or a
`.json` / `.toml` name) a manifest file. Relative `path`s inside a manifest
file resolve against the manifest's folder, so a manifest and its modules can
be moved together (the Python API resolves a dict's paths against the working
directory, as the extism SDK does). `--link NAME=PATH` adds modules a
multi-module plug-in imports from; `--hash` pins the main module's SHA-256.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from .exit_codes import LOAD_FAILED, fail

MANIFEST_SUFFIXES = (".json", ".toml")


def is_url(plugin: str) -> bool:
    return plugin.startswith(("http://", "https://"))


def manifest_for(plugin: str, *, manifest: bool = False, sha256: str | None = None,
                 links: tuple[str, ...] = ()) -> dict[str, Any]:
    """The manifest dict PLUGIN and the flags describe (exit 3 if it cannot be read)."""
    if manifest or (not is_url(plugin) and plugin.lower().endswith(MANIFEST_SUFFIXES)):
        result = _read_manifest(Path(plugin))
    elif is_url(plugin):
        result = {"wasm": [{"url": plugin}]}
    elif plugin.lower().endswith(".js"):
        result = _js_manifest(Path(plugin))
    else:
        path = Path(plugin)
        if path.is_dir():
            fail(LOAD_FAILED, f"{plugin} is a directory: PLUGIN is a .wasm or .wat file, a "
                              "manifest (-m), or an http(s):// URL")
        result = {"wasm": [{"path": str(path)}]}
    sources = result.get("wasm")
    if not isinstance(sources, list) or not sources or not all(
            isinstance(s, dict) for s in sources):
        return result  # the library says what is wrong with it
    if sha256 is not None:
        sources[-1] = {**sources[-1], "hash": sha256.lower()}
    linked = []
    for item in links:
        name, sep, path_text = item.partition("=")
        if not sep or not name or not path_text:
            raise click.BadParameter(f"expected NAME=PATH, got {item!r}", param_hint="--link")
        linked.append({"path": path_text, "name": name})
    result["wasm"] = linked + sources
    return result


def needs_wasi(plugin: str) -> bool:
    """A .js file runs on wasmplug's JavaScript runtime, a WASI plug-in."""
    return not is_url(plugin) and plugin.lower().endswith(".js")


def _js_manifest(path: Path) -> dict[str, Any]:
    """A .js file, built in memory into a JS plug-in (exit 3 if it does not build)."""
    from .. import Error
    from ..js import manifest_for as js_manifest_for

    try:
        return js_manifest_for(path)
    except Error as exc:
        fail(LOAD_FAILED, str(exc))


def _read_manifest(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text("utf-8")
    except IsADirectoryError:
        fail(LOAD_FAILED, f"{path} is a directory, not a manifest file")
    except (OSError, UnicodeDecodeError) as exc:
        fail(LOAD_FAILED, f"cannot read the manifest {path}: {getattr(exc, 'strerror', None) or exc}")
    parsed: Any
    import tomllib  # here: most calls name a .wasm, not a TOML manifest

    try:
        parsed = tomllib.loads(text) if path.suffix.lower() == ".toml" else json.loads(text)
    except ValueError as exc:
        if path.suffix.lower() != ".json":
            try:
                parsed = json.loads(text)
            except ValueError:
                fail(LOAD_FAILED, f"{path} is not a JSON or TOML manifest: {exc}")
        else:
            fail(LOAD_FAILED, f"{path} is not a JSON manifest: {exc}")
    if not isinstance(parsed, dict):
        fail(LOAD_FAILED, f"{path}: a manifest is a JSON/TOML object, got {type(parsed).__name__}")
    folder = path.resolve().parent
    sources = parsed.get("wasm")
    if isinstance(sources, list):
        parsed["wasm"] = [
            {**s, "path": str(folder / s["path"])}
            if isinstance(s, dict) and isinstance(s.get("path"), str) and s["path"]
            and not Path(s["path"]).is_absolute() else s
            for s in sources]
    return parsed
