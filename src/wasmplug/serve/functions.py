"""A function's settings and module: validating a deploy before it can take traffic.

A deploy is a module (Wasm bytes, JavaScript source or an Extism manifest as
JSON, told apart by content) and settings (JSON, every key optional, each
bounded: see `FunctionSettings`). `prepare_module` turns the upload into the
bytes the server stores and runs (JavaScript is built with `wasmplug.js`; a
manifest may only carry its modules inline, never a path or a URL), and
`manifest` is what a version runs with.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import json
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from wasmplug import binary

from .errors import DeployRejected

NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")
EXPORT = re.compile(r"[A-Za-z][A-Za-z0-9_.:-]{0,63}")
ROUTE = re.compile(r"(/[a-z0-9][a-z0-9_.-]{0,63}){1,4}")
RESERVED_ROUTES = ("api", "f", "metrics", "healthz", "readyz", "playground", "static")
MAX_CONFIG_KEYS = 64
MAX_CONFIG_KEY = 128
MAX_CONFIG_VALUE = 16 * 1024
MAX_HOSTS = 32
MAX_HOST = 253
MAX_SAMPLE = 64 * 1024
MAX_PAGES = 4096  # 256 MiB
MAX_TIMEOUT_MS = 60_000
MAX_FUEL = 10**12
MAX_INSTANCES = 32
MAX_SETTINGS_BYTES = 2 * 1024 * 1024
WASM_MAGIC = b"\0asm"
_CALLABLE = (((), ()), ((), ("i32",)))


@dataclass(frozen=True)
class FunctionSettings:
    """Per-function settings (the JSON `settings` part of a deploy; every key optional)."""

    config: dict[str, str] = field(default_factory=dict)
    secret_config: dict[str, str] = field(default_factory=dict)  # write-only: never shown
    allowed_hosts: list[str] = field(default_factory=list)
    memory_max_pages: int = 256  # 16 MiB
    timeout_ms: int = 5000
    fuel: int | None = None
    wasi: bool = False
    max_instances: int = 4
    public: bool = False
    fresh_instance: bool = False
    route: str | None = None
    route_export: str = "handle"
    sample_input: str | None = None
    sample_export: str | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def shown(self) -> dict[str, Any]:
        """The settings as the API shows them: secret values left out, their keys listed."""
        shown = asdict(self)
        shown["secret_config"] = sorted(self.secret_config)
        return shown


def check_name(name: str) -> str:
    if not NAME.fullmatch(name):
        raise DeployRejected(f"{name[:80]!r} cannot name a function: use 1 to 63 lower-case letters, "
                             "digits, '-' or '_', starting with a letter or digit", kind="bad_name")
    return name


def _mapping(value: Any, key: str) -> dict[str, str]:
    if not isinstance(value, dict):
        raise DeployRejected(f"settings.{key} must be an object of strings")
    if len(value) > MAX_CONFIG_KEYS:
        raise DeployRejected(f"settings.{key} has {len(value)} keys; at most {MAX_CONFIG_KEYS}")
    for k, v in value.items():
        if not isinstance(v, str) or not k or len(k) > MAX_CONFIG_KEY or len(v) > MAX_CONFIG_VALUE:
            raise DeployRejected(f"settings.{key}[{k[:40]!r}]: keys are 1 to {MAX_CONFIG_KEY} "
                                 f"characters, values strings of at most {MAX_CONFIG_VALUE}")
    return dict(value)


def _int(value: Any, key: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise DeployRejected(f"settings.{key} must be a whole number from {low} to {high}, "
                             f"got {json.dumps(value)[:40]}")
    return value


def _bool(value: Any, key: str) -> bool:
    if not isinstance(value, bool):
        raise DeployRejected(f"settings.{key} must be true or false")
    return value


def _text(value: Any, key: str, limit: int) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > limit:
        raise DeployRejected(f"settings.{key} must be a string of at most {limit} characters, or null")
    return value


def _hosts(value: Any) -> list[str]:
    if not isinstance(value, list) or len(value) > MAX_HOSTS or not all(
            isinstance(h, str) and 0 < len(h) <= MAX_HOST and h.isascii() and " " not in h
            for h in value):
        raise DeployRejected(f"settings.allowed_hosts must be a list of at most {MAX_HOSTS} host "
                             "names (globs like *.example.com allowed)")
    return list(value)


def _route(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not ROUTE.fullmatch(value):
        raise DeployRejected("settings.route must be a path like /hello or /shop/cart (lower-case "
                             "letters, digits, '.', '-', '_'; at most 4 segments), or null",
                             kind="bad_route")
    if value.split("/")[1] in RESERVED_ROUTES:
        raise DeployRejected(f"the route {value} is the server's own: routes may not start with "
                             + ", ".join(f"/{r}" for r in RESERVED_ROUTES), kind="bad_route")
    return value


def check_hosts(hosts: list[str], allowed_networks: Sequence[str] = ()) -> None:
    """DeployRejected for an allowed host that reaches the server's own network, or every host
    (an address in one of the operator's `allowed_networks` may be listed).

    Names are judged as written here; what they resolve to is judged at each request, by the
    `blocked_networks` of the manifest (`manifest`)."""
    networks = [ipaddress.ip_network(n) for n in allowed_networks]
    for host in hosts:
        bare = host.strip("[]").lower()
        try:
            address = ipaddress.ip_address(bare)
            internal = not address.is_global and not any(
                address.version == n.version and address in n for n in networks)
        except ValueError:
            internal = (bare.strip("*.") == "" or bare == "localhost" or bare.endswith(".localhost")
                        or bare.endswith((".local", ".internal")) or "*" in bare.split(".")[-1])
        if internal:
            raise DeployRejected(f"allowed host {host[:80]!r} reaches this server's own network or every "
                                 "host: list public host names (the operator can lift this with "
                                 "--allow-private-hosts)", kind="host_refused")


def parse_settings(text: str | bytes | None, previous: FunctionSettings | None = None
                   ) -> FunctionSettings:
    """The settings in `text` (JSON; empty: every default). Without `secret_config` a redeploy keeps
    the `previous` version's secrets (they cannot be read back to be sent again)."""
    if text is None or not text.strip():
        raw: Any = {}
    else:
        if len(text) > MAX_SETTINGS_BYTES:
            raise DeployRejected(f"the settings are over {MAX_SETTINGS_BYTES} bytes")
        try:
            raw = json.loads(text)
        except (ValueError, UnicodeDecodeError) as exc:
            raise DeployRejected(f"the settings are not JSON: {exc}") from None
    if not isinstance(raw, dict):
        raise DeployRejected("the settings must be a JSON object")
    known = {f.name for f in fields(FunctionSettings)}
    if unknown := sorted(set(raw) - known):
        raise DeployRejected(f"unknown settings: {', '.join(k[:40] for k in unknown[:5])} "
                             f"(known: {', '.join(sorted(known))})")
    checks: dict[str, Any] = {
        "config": lambda v: _mapping(v, "config"),
        "secret_config": lambda v: _mapping(v, "secret_config"),
        "allowed_hosts": _hosts,
        "memory_max_pages": lambda v: _int(v, "memory_max_pages", 1, MAX_PAGES),
        "timeout_ms": lambda v: _int(v, "timeout_ms", 1, MAX_TIMEOUT_MS),
        "fuel": lambda v: None if v is None else _int(v, "fuel", 1, MAX_FUEL),
        "wasi": lambda v: _bool(v, "wasi"),
        "max_instances": lambda v: _int(v, "max_instances", 1, MAX_INSTANCES),
        "public": lambda v: _bool(v, "public"),
        "fresh_instance": lambda v: _bool(v, "fresh_instance"),
        "route": _route,
        "route_export": lambda v: check_export(v if isinstance(v, str) else ""),
        "sample_input": lambda v: _text(v, "sample_input", MAX_SAMPLE),
        "sample_export": lambda v: None if v is None else check_export(v if isinstance(v, str) else ""),
    }
    values = {key: checks[key](value) for key, value in raw.items()}
    if "secret_config" not in raw and previous is not None:
        values["secret_config"] = dict(previous.secret_config)
    return FunctionSettings(**values)


def settings_from_json(data: dict[str, Any]) -> FunctionSettings:
    """Settings as stored (already validated)."""
    return FunctionSettings(**data)


def check_export(name: str) -> str:
    """An export a caller may name (never an internal one: `_start`, `__wasm_call_ctors`, ...)."""
    if not EXPORT.fullmatch(name) or name in ("hs_init",):
        raise DeployRejected(f"{name[:64]!r} is not an export callers may use: a name starts with "
                             "a letter (exports starting with '_' are internal)", kind="bad_export")
    return name


@dataclass(frozen=True)
class Module:
    """What the server stores and runs: `kind` is "wasm", "js" (built) or "manifest" (inline modules)."""

    kind: str
    data: bytes
    exports: list[str]


def module_kind(upload: bytes) -> str:
    if upload.startswith(WASM_MAGIC):
        return "wasm"
    if upload.lstrip()[:1] == b"{":
        return "manifest"
    return "js"


def callable_exports(wasm: bytes) -> list[str]:
    """The Extism functions of `wasm` a caller may name (internal ones left out)."""
    try:
        exports = binary.signatures(wasm)[1]
    except ValueError as exc:
        raise DeployRejected(f"the module cannot be read: {exc}", kind="invalid_module") from None
    return sorted(name for name, item in exports.items()
                  if item in _CALLABLE and EXPORT.fullmatch(name) and name != "hs_init")


def _manifest_modules(upload: bytes) -> list[dict[str, Any]]:
    try:
        raw = json.loads(upload)
    except (ValueError, UnicodeDecodeError) as exc:
        raise DeployRejected(f"the manifest is not JSON: {exc}", kind="invalid_module") from None
    wasm = raw.get("wasm") if isinstance(raw, dict) else None
    if not isinstance(wasm, list) or not 1 <= len(wasm) <= 8:
        raise DeployRejected("a manifest needs \"wasm\": a list of 1 to 8 modules", kind="invalid_module")
    if extra := sorted(set(raw) - {"wasm"}):
        raise DeployRejected(f"a deployed manifest holds only \"wasm\" (its limits, config and hosts "
                             f"are the deploy's settings); found {', '.join(extra[:5])}",
                             kind="invalid_module")
    modules = []
    for i, entry in enumerate(wasm):
        if not isinstance(entry, dict) or "data" not in entry or set(entry) - {"data", "name", "hash"}:
            raise DeployRejected(f"wasm[{i}]: a deployed module is inline {{\"data\": base64}} (a path or "
                                 "URL would read the server's files or network)", kind="invalid_module")
        try:
            data = base64.b64decode(entry["data"], validate=True)
        except (binascii.Error, ValueError, TypeError):
            raise DeployRejected(f"wasm[{i}].data is not base64", kind="invalid_module") from None
        if not data.startswith(WASM_MAGIC):
            raise DeployRejected(f"wasm[{i}] is not a Wasm module", kind="invalid_module")
        modules.append({**entry, "data": base64.b64encode(data).decode()})
    return modules


def prepare_module(upload: bytes) -> Module:
    """The module to store for `upload` (JavaScript built now); DeployRejected if it is not one."""
    kind = module_kind(upload)
    if kind == "wasm":
        return Module(kind, upload, callable_exports(upload))
    if kind == "manifest":
        modules = _manifest_modules(upload)
        data = json.dumps({"wasm": modules}, sort_keys=True).encode()
        return Module(kind, data, callable_exports(base64.b64decode(modules[-1]["data"])))
    from wasmplug import Error, js

    try:
        source = upload.decode("utf-8")
    except UnicodeDecodeError:
        raise DeployRejected("the module is neither Wasm (\\0asm), a manifest ({...}) nor JavaScript "
                             "(UTF-8 text)", kind="invalid_module") from None
    try:
        built = js.build(source, filename="function.js")
    except Error as exc:  # BuildError, or the JSError of a syntax error
        raise DeployRejected(f"the JavaScript does not build: {exc}", kind="invalid_module") from None
    return Module(kind, built, callable_exports(built))


def manifest(module: Module, settings: FunctionSettings,
             allowed_networks: Sequence[str] = ()) -> dict[str, Any]:
    """The Extism manifest a version runs with: its module(s) and its settings' limits.

    HTTP never reaches a non-public address (loopback, private, link-local, ...: whatever the
    host name resolves to) unless the server lists its network in `allowed_networks`."""
    if module.kind == "manifest":
        wasm: list[dict[str, Any]] = json.loads(module.data)["wasm"]
    else:
        wasm = [{"data": module.data}]
    result: dict[str, Any] = {
        "wasm": wasm, "config": {**settings.config, **settings.secret_config},
        "allowed_hosts": list(settings.allowed_hosts),
        "blocked_networks": ["non-public"], "allowed_networks": list(allowed_networks),
        "memory": {"max_pages": settings.memory_max_pages}, "timeout_ms": settings.timeout_ms,
    }
    if module.kind == "js":
        from wasmplug import js

        result = js.with_heap_limit(result)
    return result


def uses_wasi(module: Module, settings: FunctionSettings) -> bool:
    """JavaScript functions always run with WASI (the runtime needs it; it grants nothing)."""
    return settings.wasi or module.kind == "js"
