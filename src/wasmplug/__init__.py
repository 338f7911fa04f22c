"""wasmplug: a universal plug-in system for Python on WebAssembly.

Runs Extism plug-ins (any PDK, ABI 1.x) inside the Python process with nothing
reachable but what the host grants. A drop-in for the official `extism`
Python SDK::

    import wasmplug as extism

    with extism.Plugin("count_vowels.wasm") as plugin:
        print(plugin.call("count_vowels", "hello world"))
"""

from typing import TYPE_CHECKING, Any

from ._cache import set_cache_dir
from ._engine import extism_version
from ._errors import CallError, CallTimeout, Error, LoadError, ManifestError
from ._host_functions import (
    Codec,
    CurrentPlugin,
    Function,
    Json,
    Memory,
    Pickle,
    Val,
    ValType,
    host_fn,
)
from ._logs import set_log_custom, set_log_file
from ._manifest import (
    LoadLimits,
    Manifest,
    MemoryOptions,
    WasmData,
    WasmFile,
    WasmUrl,
    load_limits,
    set_load_limits,
)
from ._plugin import CancelHandle, CompiledPlugin, Plugin
from ._prepared import PreparedCall
from ._versions import wasmplug_version
from ._wasi import WasiOptions

# Imported when first used, not with wasmplug: a one-shot script pays only for what it calls.
_LAZY = {
    "AsyncPluginPool": "_pool", "PluginPool": "_pool", "PoolTimeout": "_pool",
    "inspect_plugin": "_inspection",
    "extism": None,  # the `wasmplug.extism` module (`extism.extism.*` for SDK compatibility)
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        module = importlib.import_module(f"{__name__}.{_LAZY[name] or name}")
        value = module if _LAZY[name] is None else getattr(module, name)
        globals()[name] = value
        return value
    # __version__ is looked up when asked for: importlib.metadata takes ~50 ms to import.
    if name != "__version__":
        raise AttributeError(f"module 'wasmplug' has no attribute {name!r}")
    found = globals()["__version__"] = wasmplug_version()
    return found


__all__ = [
    "AsyncPluginPool",
    "CallError",
    "CallTimeout",
    "CancelHandle",
    "Codec",
    "CompiledPlugin",
    "CurrentPlugin",
    "Error",
    "Function",
    "Json",
    "LoadError",
    "LoadLimits",
    "Manifest",
    "ManifestError",
    "Memory",
    "MemoryOptions",
    "Pickle",
    "Plugin",
    "PluginPool",
    "PoolTimeout",
    "PreparedCall",
    "Val",
    "ValType",
    "WasiOptions",
    "WasmData",
    "WasmFile",
    "WasmUrl",
    "__version__",
    "extism_version",
    "host_fn",
    "inspect_plugin",
    "load_limits",
    "set_cache_dir",
    "set_load_limits",
    "set_log_custom",
    "set_log_file",
]

if TYPE_CHECKING:
    from . import extism as extism
    from ._inspection import inspect_plugin
    from ._pool import AsyncPluginPool, PluginPool, PoolTimeout
