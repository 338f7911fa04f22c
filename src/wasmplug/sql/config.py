"""The TOML file of plug-ins that the Datasette and sqlite-utils plug-ins (and `wasmplug sql
--functions`) register: which plug-ins, which of their exports, with which limits.

    [[plugin]]
    path = "text.wasm"            # relative to this file; or url = "https://..."
    hash = "9f86d0..."            # SHA-256 hex: required with url, checked before compiling
    timeout_ms = 500              # limits for every function of this plug-in
    max_pages = 256               #   (fuel_limit, max_output_bytes, max_instances too)
    wasi = false
    config = { vowels = "aeiou" }

    [[plugin.function]]
    name = "count_vowels"         # the SQL name
    export = "count_vowels"       # default: name (aggregates: <export>_step, ...)
    kind = "scalar"               # scalar | aggregate | window | batch
    nargs = 1
    returns = "INTEGER"           # TEXT | BLOB | INTEGER | REAL | JSON
    deterministic = true
    timeout_ms = 100              # and any other limit, for this function only

The file is treated as hostile: its size, the number of plug-ins and
functions and every limit are bounded, unknown keys are refused, and each
problem is a `FunctionsFileError` naming the file, the entry and the key.
"""

from __future__ import annotations

import logging
import re
import threading
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from wasmplug import Error, Manifest, WasmFile, WasmUrl

from . import duck
from .functions import KINDS, Kind, Limits, PluginSource, SQLFunction
from .registration import register

log = logging.getLogger("wasmplug.sql")

MAX_FILE_BYTES = 256 * 1024
MAX_PLUGINS = 64
MAX_FUNCTIONS = 256
MAX_CONFIG_ENTRIES = 256
LIMIT_MAXIMUMS = {
    "timeout_ms": 600_000,           # ten minutes per call
    "max_pages": 65_536,             # 4 GiB
    "fuel_limit": 10**12,
    "max_output_bytes": 1 << 30,     # SQLite's own largest string
    "max_instances": 1_024,
}
_HASH = re.compile(r"[0-9a-f]{64}")
_PLUGIN_KEYS = {"path", "url", "hash", "wasi", "config", "function", *LIMIT_MAXIMUMS}
_FUNCTION_KEYS = {"name", "export", "kind", "nargs", "returns", "deterministic", "strict", "args",
                  "arg_types", *LIMIT_MAXIMUMS}


class FunctionsFileError(Error):
    """The TOML file of SQL plug-ins is malformed: the message names the file, entry and key."""


@dataclass(frozen=True)
class PluginEntry:
    """One `[[plugin]]`: a module, its options and the SQL functions made of it."""

    manifest: Manifest
    wasi: bool
    config: dict[str, str]
    limits: Limits
    functions: tuple[SQLFunction, ...]


@dataclass
class FunctionsFile:
    """A parsed file; `register(conn)` registers all its functions, compiling each plug-in once."""

    plugins: tuple[PluginEntry, ...]
    origin: str = "<text>"
    _sources: dict[int, PluginSource] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def source(self, index: int) -> PluginSource:
        with self._lock:
            found = self._sources.get(index)
            if found is None:
                entry = self.plugins[index]
                found = PluginSource(entry.manifest, wasi=entry.wasi, config=entry.config,
                                     limits=entry.limits)
                self._sources[index] = found
            return found

    def register(self, conn: Any) -> list[Any]:
        """Register every function the engine supports on `conn` (sqlite3 or duckdb).

        SQLite takes scalar, aggregate and window functions, DuckDB scalar and
        batch ones; the others are left out (logged on `wasmplug.sql`), so one
        file serves both. Returns the Registrations.
        """

        supported = ("scalar", "batch") if duck.is_duckdb(conn) else ("scalar", "aggregate", "window")
        done = []
        for index, entry in enumerate(self.plugins):
            functions = [f for f in entry.functions if f.kind in supported]
            skipped = [f.name for f in entry.functions if f.kind not in supported]
            if skipped:
                log.info("%s: %s left out: %s cannot run them", self.origin, ", ".join(skipped),
                         "DuckDB" if "batch" in supported else "SQLite")
            if functions:
                done.append(register(conn, None, *functions, source=self.source(index)))
        return done

    @property
    def function_names(self) -> list[str]:
        return [f.name for p in self.plugins for f in p.functions]


def _fail(where: str, message: str) -> FunctionsFileError:
    return FunctionsFileError(f"{where}: {message}")


def _check_keys(table: dict[str, Any], allowed: set[str], where: str) -> None:
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise _fail(where, f"unknown key {unknown[0]!r:.60}; allowed: {', '.join(sorted(allowed))}")


def _typed(table: dict[str, Any], key: str, kind: type | tuple[type, ...], where: str) -> Any:
    value = table.get(key)
    if value is not None and (not isinstance(value, kind) or (isinstance(value, bool) and kind is int)):
        names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise _fail(f"{where}.{key}", f"expected {names}, got {type(value).__name__}")
    return value


def _limits(table: dict[str, Any], where: str) -> Limits:
    values: dict[str, int] = {}
    for key, maximum in LIMIT_MAXIMUMS.items():
        value = _typed(table, key, int, where)
        if value is None:
            continue
        if not 1 <= value <= maximum:
            raise _fail(f"{where}.{key}", f"must be between 1 and {maximum:,}, got {value}")
        values[key] = value
    return Limits(**values)


def _function(table: Any, where: str) -> SQLFunction:
    if not isinstance(table, dict):
        raise _fail(where, "expected a table ([[plugin.function]])")
    _check_keys(table, _FUNCTION_KEYS, where)
    name = _typed(table, "name", str, where)
    if name is None:
        raise _fail(where, "missing 'name' (the SQL function's name)")
    kind = _typed(table, "kind", str, where) or "scalar"
    if kind not in KINDS:
        raise _fail(f"{where}.kind", f"must be one of {', '.join(KINDS)}, got {kind!r:.40}")
    arg_types = _typed(table, "arg_types", list, where)
    if arg_types is not None and (len(arg_types) > 100 or not all(isinstance(t, str) and len(t) < 64
                                                                  for t in arg_types)):
        raise _fail(f"{where}.arg_types", "expected at most 100 type names (strings)")
    try:
        return SQLFunction(
            name=name, export=_typed(table, "export", str, where), kind=cast(Kind, kind),
            nargs=_typed(table, "nargs", int, where) if "nargs" in table else 1,
            returns=_typed(table, "returns", str, where) or "TEXT",
            deterministic=bool(_typed(table, "deterministic", bool, where)),
            strict=_typed(table, "strict", bool, where) is not False,
            args=_typed(table, "args", str, where) or "auto",
            arg_types=tuple(arg_types) if arg_types is not None else None,
            limits=_limits(table, where))
    except FunctionsFileError:
        raise
    except Error as exc:
        raise _fail(where, str(exc)) from None


def _plugin(table: Any, where: str, base: Path | None) -> PluginEntry:
    if not isinstance(table, dict):
        raise _fail(where, "expected a table ([[plugin]])")
    _check_keys(table, _PLUGIN_KEYS, where)
    path = _typed(table, "path", str, where)
    url = _typed(table, "url", str, where)
    digest = _typed(table, "hash", str, where)
    if digest is not None and not _HASH.fullmatch(digest):
        raise _fail(f"{where}.hash", "expected the module's SHA-256 as 64 lower-case hex digits")
    if (path is None) == (url is None):
        raise _fail(where, "give exactly one of 'path' (a .wasm file) and 'url'")
    if url is not None:
        if not url.startswith(("https://", "http://")):
            raise _fail(f"{where}.url", "only http:// and https:// URLs are fetched")
        if digest is None:
            raise _fail(where, "a 'url' needs its 'hash' (SHA-256 hex): a download is only run "
                        "when it is exactly the module you checked")
        source: WasmFile | WasmUrl = WasmUrl(url, hash=digest)
    else:
        assert path is not None
        resolved = Path(path) if base is None or Path(path).is_absolute() else base / path
        source = WasmFile(str(resolved), hash=digest)
    config = _typed(table, "config", dict, where) or {}
    if len(config) > MAX_CONFIG_ENTRIES or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in config.items()):
        raise _fail(f"{where}.config", f"expected at most {MAX_CONFIG_ENTRIES} string keys "
                    "with string values")
    functions = _typed(table, "function", list, where)
    if not functions:
        raise _fail(where, "no [[plugin.function]]: name at least one function")
    return PluginEntry(
        manifest=Manifest(wasm=(source,)), wasi=bool(_typed(table, "wasi", bool, where)),
        config=dict(config), limits=_limits(table, where),
        functions=tuple(_function(f, f"{where}.function[{i}]") for i, f in enumerate(functions)))


def parse_file(text: str | bytes, origin: str = "<text>", base: Path | None = None) -> FunctionsFile:
    """Parse the TOML text of a functions file; relative paths resolve against `base`."""
    if len(text) > MAX_FILE_BYTES:
        raise _fail(origin, f"the file is {len(text):,} bytes; at most {MAX_FILE_BYTES:,} are read")
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError:
            raise _fail(origin, "not UTF-8 text") from None
    try:
        data = tomllib.loads(text)
    except (tomllib.TOMLDecodeError, RecursionError) as exc:
        raise _fail(origin, f"not valid TOML: {exc}") from None
    _check_keys(data, {"plugin"}, origin)
    plugins = _typed(data, "plugin", list, origin) or []
    if len(plugins) > MAX_PLUGINS:
        raise _fail(origin, f"{len(plugins)} plug-ins; at most {MAX_PLUGINS}")
    entries = tuple(_plugin(p, f"{origin}: plugin[{i}]", base) for i, p in enumerate(plugins))
    names = [f.name.lower() for e in entries for f in e.functions]
    if len(names) > MAX_FUNCTIONS:
        raise _fail(origin, f"{len(names)} functions; at most {MAX_FUNCTIONS}")
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise _fail(origin, f"function {duplicates[0]!r} is defined twice (SQL names ignore case)")
    return FunctionsFile(entries, origin)


def load_file(path: str | Path) -> FunctionsFile:
    """Read and parse a functions file (at most MAX_FILE_BYTES)."""
    path = Path(path)
    try:
        with path.open("rb") as f:
            text = f.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise FunctionsFileError(f"{path}: cannot read the functions file: {exc.strerror}") from None
    return parse_file(text, str(path), path.resolve().parent)


ENVIRONMENT_VARIABLE = "WASMPLUG_SQL_FUNCTIONS"
DEFAULT_FILE_NAME = "wasmplug-sql.toml"
_loaded: dict[str, tuple[tuple[int, int], FunctionsFile]] = {}  # path -> (version, parsed file)
MAX_SHARED_FILES = 16
_loaded_lock = threading.Lock()


def find_file(explicit: str | Path | None = None) -> Path | None:
    """The functions file the Datasette / sqlite-utils plug-ins use: `explicit` (from Datasette's
    plug-in config), else $WASMPLUG_SQL_FUNCTIONS, else ./wasmplug-sql.toml if it exists."""
    import os

    chosen = explicit or os.environ.get(ENVIRONMENT_VARIABLE)
    if chosen:
        return Path(chosen)
    default = Path(DEFAULT_FILE_NAME)
    return default if default.is_file() else None


def shared_file(path: Path) -> FunctionsFile:
    """`load_file(path)`, parsed again only when the file changes, so connections share compiled
    code. Only the latest version of each file is kept, and at most MAX_SHARED_FILES files."""
    try:
        stat = path.stat()
    except OSError as exc:
        raise FunctionsFileError(f"{path}: cannot read the functions file: {exc.strerror}") from None
    key, version = str(path.resolve()), (stat.st_mtime_ns, stat.st_size)
    with _loaded_lock:
        found = _loaded.get(key)
        if found is not None and found[0] == version:
            return found[1]
        parsed = load_file(path)
        _loaded.pop(key, None)
        while len(_loaded) >= MAX_SHARED_FILES:
            _loaded.pop(next(iter(_loaded)))
        _loaded[key] = (version, parsed)
        return parsed
