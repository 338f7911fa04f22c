"""The extension host: sandboxed extensions listed in a TOML file, called with JSON.

    from wasmplug.extensions import ExtensionHost

    with ExtensionHost("extensions.toml") as host:
        host.call("wasm-optimizer", "transform", {"ir": ...})

Each extension is a WebAssembly module exporting `initialize(config) ->
{"status": "ready"}`, `capabilities() -> [{"name", "description",
"params_schema"?, "return_schema"?}]`, its methods (JSON in, JSON out) and
optionally `shutdown`. The TOML format is described in `config.py`.
Needs the `wasmplug[extensions]` extra (fastjsonschema, watchfiles; orjson for
faster JSON, optional).
"""

from .config import ExtensionConfig, Permissions, RestartPolicy, load_config, parse_config
from .errors import (
    ExtensionCallFailed,
    ExtensionConfigError,
    ExtensionCrashed,
    ExtensionError,
    ExtensionNotFound,
    ExtensionNotReady,
    ExtensionTimeout,
    InvalidParams,
    InvalidResult,
    MethodNotOffered,
    PermissionDenied,
)
from .extension import Capability, Event, ExtensionStatus
from .host import ExtensionHost

__all__ = [
    "Capability",
    "Event",
    "ExtensionCallFailed",
    "ExtensionConfig",
    "ExtensionConfigError",
    "ExtensionCrashed",
    "ExtensionError",
    "ExtensionHost",
    "ExtensionNotFound",
    "ExtensionNotReady",
    "ExtensionStatus",
    "ExtensionTimeout",
    "InvalidParams",
    "InvalidResult",
    "MethodNotOffered",
    "PermissionDenied",
    "Permissions",
    "RestartPolicy",
    "load_config",
    "parse_config",
]
