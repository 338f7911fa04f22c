"""The extension host's TOML configuration: parsing and validation.

    [[extensions]]
    name = "wasm-optimizer"
    enabled = true
    protocol = "extism"

    [extensions.source]
    type = "wasm"
    path = "./extensions/optimizer.wasm"   # relative to the TOML file; or url = "...", hash = "<sha256>"
    # type = "js", path = "optimizer.js": JavaScript in the JS PDK style, built
    # by wasmplug.js when loaded (runs with WASI, nothing granted); hash pins the .js

    [extensions.permissions]
    max_memory = "100MB"           # B, KB, MB, GB (powers of 1000), KiB, MiB, GiB (of 1024)
    max_execution_time = "5s"      # ms, s, m
    network = false                # true: any host; or allowed_hosts = ["api.example.com"]
    filesystem = []                # host directories ("ro:" prefix: read-only); implies WASI
    max_concurrent_calls = 1       # > 1: a pool of instances
    fuel = 10_000_000              # instructions per call (optional)

    [extensions.config]            # passed to initialize() as JSON, and as plug-in config strings
    level = "aggressive"

    [extensions.restart]
    strategy = "exponential"       # never | immediate | exponential
    initial_delay = "100ms"
    max_delay = "10s"
    max_retries = 5                # restarts in a row (without a successful call) before giving up
    calls_during_restart = "wait"  # or "fail": fail fast with ExtensionNotReady

Every mistake raises one `ExtensionConfigError` naming the file, the extension
and the key.
"""

from __future__ import annotations

import json
import math
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

from .errors import ExtensionConfigError

PAGE = 65_536
_MEMORY_UNITS = {"b": 1, "kb": 1000, "mb": 1000**2, "gb": 1000**3,
                 "kib": 1024, "mib": 1024**2, "gib": 1024**3}
_TIME_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0}
_QUANTITY = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([A-Za-z]+)\s*")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
STRATEGIES = ("never", "immediate", "exponential")

_KEYS = {"name", "enabled", "protocol", "source", "permissions", "config", "restart"}
_SOURCE_KEYS = {"type", "path", "url", "hash"}
_PERMISSION_KEYS = {"max_memory", "max_execution_time", "network", "allowed_hosts", "filesystem",
                    "max_concurrent_calls", "fuel"}
_RESTART_KEYS = {"strategy", "initial_delay", "max_delay", "max_retries", "calls_during_restart"}


@dataclass(frozen=True)
class Permissions:
    max_memory: int | None = None          # bytes
    max_execution_time: float | None = None  # seconds
    allowed_hosts: tuple[str, ...] = ()    # () : no network
    filesystem: tuple[str, ...] = ()       # absolute host directories, "ro:" kept
    max_concurrent_calls: int = 1
    fuel: int | None = None

    @property
    def max_pages(self) -> int | None:
        return None if self.max_memory is None else max(1, math.ceil(self.max_memory / PAGE))


@dataclass(frozen=True)
class RestartPolicy:
    strategy: str = "exponential"
    initial_delay: float = 0.1
    max_delay: float = 10.0
    max_retries: int = 5
    calls_during_restart: str = "wait"

    def delay(self, attempt: int) -> float:
        """Seconds to wait before restart number `attempt` (1 = first in a row)."""
        if self.strategy != "exponential":
            return 0.0
        return float(min(self.max_delay, self.initial_delay * 2 ** (attempt - 1)))


@dataclass(frozen=True)
class ExtensionConfig:
    """One validated `[[extensions]]` entry."""

    name: str
    file: str                      # the TOML file it came from
    path: Path | None = None       # source: a local file ...
    url: str | None = None         # ... or a URL
    hash: str | None = None
    kind: str = "wasm"             # source.type: "wasm", or "js" (path is JavaScript source)
    enabled: bool = True
    protocol: str = "extism"
    permissions: Permissions = Permissions()
    config: Mapping[str, Any] = field(default_factory=dict)
    restart: RestartPolicy = RestartPolicy()

    def config_strings(self) -> dict[str, str]:
        """The config as Extism plug-in config (strings; other values as JSON)."""
        return {key: value if isinstance(value, str) else json.dumps(value)
                for key, value in self.config.items()}


def load_config(path: str | Path) -> list[ExtensionConfig]:
    """Read and validate an extension host TOML file."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ExtensionConfigError(f"cannot read the configuration: {exc}", file=str(file)) from None
    return parse_config(text, file)


def parse_config(text: str, file: str | Path) -> list[ExtensionConfig]:
    """Validate TOML text; relative paths are resolved against `file`'s folder."""
    file = Path(file)
    where = str(file)
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ExtensionConfigError(f"not valid TOML: {exc}", file=where) from None
    for key in document:
        if key != "extensions":
            raise ExtensionConfigError("unknown top-level key (expected only [[extensions]])",
                                       file=where, key=key)
    entries = document.get("extensions", [])
    if not isinstance(entries, list):
        raise ExtensionConfigError("expected [[extensions]] tables", file=where, key="extensions")
    parsed: list[ExtensionConfig] = []
    seen: set[str] = set()
    for index, entry in enumerate(entries):
        extension = _Entry(entry, index, file).parse()
        if extension.name in seen:
            raise ExtensionConfigError("duplicate extension name: each [[extensions]] entry needs "
                                       "its own name", file=where, extension=extension.name,
                                       key="name")
        seen.add(extension.name)
        parsed.append(extension)
    return parsed


class _Entry:
    """Validation of one [[extensions]] table."""

    def __init__(self, entry: Any, index: int, file: Path) -> None:
        self.file = file
        self.name: str | None = None
        self.label = f"#{index + 1}"
        if not isinstance(entry, dict):
            self.fail("expected a table", None)
        self.entry: dict[str, Any] = entry

    def fail(self, message: str, key: str | None) -> NoReturn:
        raise ExtensionConfigError(message, file=str(self.file),
                                   extension=self.name if self.name is not None else self.label,
                                   key=key)

    def table(self, key: str, allowed: set[str] | None) -> dict[str, Any]:
        value = self.entry.get(key, {})
        if not isinstance(value, dict):
            self.fail("expected a table", key)
        table: dict[str, Any] = value
        if allowed is not None:
            for sub in value:
                if sub not in allowed:
                    self.fail(f"unknown key (allowed: {', '.join(sorted(allowed))})", f"{key}.{sub}")
        return table

    def parse(self) -> ExtensionConfig:
        name = self.entry.get("name")
        if not isinstance(name, str) or not _NAME.fullmatch(name):
            self.fail("expected a name of letters, digits, '_', '.', '-' (e.g. \"wasm-optimizer\")",
                      "name")
        self.name = name
        for key in self.entry:
            if key not in _KEYS:
                self.fail(f"unknown key (allowed: {', '.join(sorted(_KEYS))})", key)
        enabled = self.entry.get("enabled", True)
        if not isinstance(enabled, bool):
            self.fail("expected true or false", "enabled")
        protocol = self.entry.get("protocol", "extism")
        if protocol != "extism":
            self.fail(f"unsupported protocol {protocol!r} (supported: \"extism\")", "protocol")
        kind, path, url, digest = self.source()
        config = self.table("config", None)
        return ExtensionConfig(name=name, file=str(self.file), path=path, url=url, hash=digest,
                               kind=kind,
                               enabled=enabled, protocol=protocol, permissions=self.permissions(),
                               config=config, restart=self.restart())

    def source(self) -> tuple[str, Path | None, str | None, str | None]:
        if "source" not in self.entry:
            self.fail("missing: add [extensions.source] with type = \"wasm\" and a path or url",
                      "source")
        source = self.table("source", _SOURCE_KEYS)
        kind = source.get("type", "wasm")
        if kind not in ("wasm", "js"):
            self.fail(f"unsupported source type {kind!r} (supported: \"wasm\", \"js\")",
                      "source.type")
        digest = source.get("hash")
        if digest is not None and (not isinstance(digest, str)
                                   or not re.fullmatch(r"[0-9a-f]{64}", digest)):
            self.fail("expected the lowercase hex SHA-256 of the module (64 characters)",
                      "source.hash")
        if ("path" in source) == ("url" in source):
            self.fail("give exactly one of path or url", "source.path")
        if "url" in source:
            if kind == "js":
                self.fail("a JavaScript extension is built from a local file: give path, not url",
                          "source.url")
            url = source["url"]
            if not isinstance(url, str) or not url.startswith(("http://", "https://")):
                self.fail("expected an http:// or https:// URL", "source.url")
            return kind, None, url, digest
        raw = source["path"]
        if not isinstance(raw, str) or not raw:
            self.fail("expected a file path", "source.path")
        path = (self.file.parent / raw).resolve()
        if not path.is_file():
            self.fail(f"file not found: {path} (paths are relative to the TOML file)",
                      "source.path")
        return kind, path, None, digest

    def permissions(self) -> Permissions:
        table = self.table("permissions", _PERMISSION_KEYS)
        memory = table.get("max_memory")
        max_memory = None if memory is None else self.quantity(
            memory, _MEMORY_UNITS, "permissions.max_memory", "\"100MB\"", bare_unit=1)
        time = table.get("max_execution_time")
        max_time = None if time is None else self.quantity(
            time, _TIME_UNITS, "permissions.max_execution_time", "\"5s\"", bare_unit=None)
        network = table.get("network", False)
        if not isinstance(network, bool):
            self.fail("expected true or false", "permissions.network")
        hosts: tuple[str, ...] = ("*",) if network else ()
        if "allowed_hosts" in table:
            listed = table["allowed_hosts"]
            if not isinstance(listed, list) or not all(isinstance(h, str) and h for h in listed):
                self.fail("expected a list of host names", "permissions.allowed_hosts")
            if "network" in table and not network and listed:
                self.fail("network = false contradicts a non-empty allowed_hosts",
                          "permissions.allowed_hosts")
            hosts = tuple(listed)
        return Permissions(max_memory=None if max_memory is None else int(max_memory),
                           max_execution_time=max_time, allowed_hosts=hosts,
                           filesystem=self.filesystem(table.get("filesystem", [])),
                           max_concurrent_calls=self.positive(table, "max_concurrent_calls", 1),
                           fuel=self.positive(table, "fuel", None))

    def filesystem(self, value: Any) -> tuple[str, ...]:
        key = "permissions.filesystem"
        if not isinstance(value, list) or not all(isinstance(p, str) and p for p in value):
            self.fail("expected a list of host directories (\"ro:\" prefix: read-only)", key)
        mounts = []
        for item in value:
            read_only = item.startswith("ro:")
            directory = (self.file.parent / item.removeprefix("ro:")).resolve()
            if not directory.is_dir():
                self.fail(f"{directory} is not a directory (paths are relative to the TOML file)",
                          key)
            mounts.append(("ro:" if read_only else "") + str(directory))
        return tuple(mounts)

    def positive(self, table: Mapping[str, Any], key: str, default: int | None) -> Any:
        value = table.get(key, default)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            self.fail(f"expected a positive integer, got {value!r}", f"permissions.{key}")
        return value

    def quantity(self, value: Any, units: Mapping[str, float], key: str, example: str,
                 bare_unit: float | None) -> float:
        if isinstance(value, int) and not isinstance(value, bool) and bare_unit is not None:
            number, scale = float(value), bare_unit
        else:
            match = _QUANTITY.fullmatch(value) if isinstance(value, str) else None
            if match is None or match.group(2).lower() not in units:
                self.fail(f"expected a number with a unit ({', '.join(units)}), e.g. {example}; "
                          f"got {value!r}", key)
            number, scale = float(match.group(1)), units[match.group(2).lower()]
        result = number * scale
        if result <= 0:
            self.fail(f"must be greater than zero, got {value!r}", key)
        return result

    def restart(self) -> RestartPolicy:
        table = self.table("restart", _RESTART_KEYS)
        strategy = table.get("strategy", "exponential")
        if strategy not in STRATEGIES:
            self.fail(f"expected one of {', '.join(STRATEGIES)}, got {strategy!r}",
                      "restart.strategy")
        during = table.get("calls_during_restart", "wait")
        if during not in ("wait", "fail"):
            self.fail(f"expected \"wait\" or \"fail\", got {during!r}", "restart.calls_during_restart")
        retries = table.get("max_retries", 5)
        if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
            self.fail(f"expected an integer >= 0, got {retries!r}", "restart.max_retries")
        delays = {}
        for key, default in (("initial_delay", 0.1), ("max_delay", 10.0)):
            raw = table.get(key)
            delays[key] = default if raw is None else self.quantity(
                raw, _TIME_UNITS, f"restart.{key}", "\"100ms\"", bare_unit=None)
        if delays["max_delay"] < delays["initial_delay"]:
            self.fail("must not be smaller than initial_delay", "restart.max_delay")
        return RestartPolicy(strategy=strategy, initial_delay=delays["initial_delay"],
                             max_delay=delays["max_delay"], max_retries=retries,
                             calls_during_restart=during)
