"""Inspecting a plug-in without running it (`wasmplug.inspect_plugin`, `wasmplug info`).

For every module: size, SHA-256, compile time and whether the module cache
had it, exports with their Wasm signatures (and which are callable Extism
functions), imports with who provides each (wasmplug's kernel, host
environment, WASI, the legacy 0.x ABI, another module of the manifest, or a
host function the host program must provide), memories and custom sections.
"""

from __future__ import annotations

import time
from typing import Any

from . import _wasmtime as wasmtime
from ._cache import has_entry
from ._engine import EngineSettings, runtime
from ._errors import LoadError
from ._host_env import HOST_FUNCTIONS
from ._kernel import HOST_ENV_IN_KERNEL, KERNEL_FUNCTIONS
from ._linking import KERNEL_NAMESPACE, LEGACY_NAMES, LEGACY_NAMESPACE, LEGACY_PREFIX, WASI_NAMESPACES
from ._manifest import load_modules, parse_source
from .binary import Item, custom_sections, memories, producers, signatures

CALLABLE = {((), ()), ((), ("i32",))}


def _signature(item: Item) -> str:
    if isinstance(item, str):
        return item
    params, results = item
    return f"({', '.join(params)}) -> ({', '.join(results)})"


def _provider(module: str, name: str, item: Item, exported: dict[str, set[str]]) -> tuple[str, str]:
    """(who provides the import, how): wasmplug's kernel/host env/WASI/legacy, a module, or the host."""
    if module == KERNEL_NAMESPACE:
        if name in HOST_FUNCTIONS or name in HOST_ENV_IN_KERNEL:
            return "wasmplug", "host environment"
        if name in KERNEL_FUNCTIONS:
            return "wasmplug", "kernel"
        return "nobody", "not part of the Extism ABI this host implements"
    if module == LEGACY_NAMESPACE and name.startswith(LEGACY_PREFIX) \
            and name[len(LEGACY_PREFIX):] in LEGACY_NAMES:
        return "wasmplug", "legacy 0.x ABI"
    if module in WASI_NAMESPACES:
        return "wasmplug", "WASI (needs --wasi)"
    if name in exported.get(module, set()):
        return "wasmplug", f"module '{module}' of the manifest"
    return "host", "a host function the host program must provide"


def inspect_plugin(plugin: Any) -> dict[str, Any]:
    """What a plug-in exports, imports and needs, as JSON-ready data, without running it.

    `plugin` is anything `Plugin` accepts except a `CompiledPlugin`. Each
    module is read (hash-verified, downloaded if a URL) and compiled through
    the module cache, never linked or instantiated, so plug-ins that need
    WASI or host functions can be inspected too. Raises `wasmplug.Error`
    (`LoadError`, `ManifestError`) if it cannot be loaded.
    """
    manifest = parse_source(plugin)
    loaded = load_modules(manifest)
    rt = runtime(EngineSettings())
    modules: list[dict[str, Any]] = []
    parsed: dict[str, tuple[dict[tuple[str, str], Item], dict[str, Item]]] = {}
    for module in loaded:
        wasm = module.wasm
        if not wasm.startswith(b"\0asm"):
            try:
                wasm = bytes(wasmtime.wat2wasm(wasm.decode("utf-8")))
            except (UnicodeDecodeError, wasmtime.WasmtimeError) as exc:
                raise LoadError(f"module '{module.name}' is neither wasm nor valid WAT: "
                                f"{str(exc).strip().splitlines()[0]}") from None
        cached = has_entry(module.sha256, rt.settings.fingerprint())
        started = time.perf_counter()
        rt.compile(module.wasm, module.sha256, module.name)
        compile_s = time.perf_counter() - started
        try:
            parsed[module.name] = signatures(wasm)
            mems = memories(wasm)
            sections = custom_sections(wasm)
        except ValueError as exc:
            raise LoadError(f"module '{module.name}': {exc}") from None
        custom = []
        for name, contents in sections:
            entry: dict[str, Any] = {"name": name, "size": len(contents)}
            if name == "producers":
                try:
                    entry["producers"] = producers(contents)
                except ValueError as exc:
                    entry["error"] = str(exc)
            custom.append(entry)
        modules.append({
            "name": module.name, "size": len(module.wasm), "sha256": module.sha256,
            "compile_seconds": round(compile_s, 6), "from_cache": cached,
            "memories": [{"origin": o, "initial_pages": lo, "max_pages": hi}
                         for o, lo, hi in mems],
            "custom_sections": custom,
        })
    exported = {name: set(parsed[name][1]) for name in parsed if name != "main"}
    for info, module in zip(modules, loaded, strict=True):
        imports, exports = parsed[module.name]
        info["exports"] = [{"name": name, "signature": _signature(item),
                            "extism_function": item in CALLABLE}
                           for name, item in exports.items()]
        info["imports"] = []
        for (namespace, name), item in imports.items():
            provider, how = _provider(namespace, name, item, exported)
            info["imports"].append({"module": namespace, "name": name,
                                    "signature": _signature(item), "provided_by": provider,
                                    "how": how})
    initial = [m["initial_pages"] for info in modules for m in info["memories"]]
    all_imports = [i for info in modules for i in info["imports"]]
    return {
        "modules": modules,
        "functions": sorted(e["name"] for e in modules[-1]["exports"] if e["extism_function"]),
        "needs_wasi": any(i["how"].startswith("WASI") for i in all_imports),
        "host_functions_needed": [f"{i['module']}.{i['name']} {i['signature']}"
                                  for i in all_imports if i["provided_by"] != "wasmplug"],
        # --memory-max counts growth beyond the largest initial memory: 0 lets the
        # plug-in start (the official runtime counts the total: initial_pages).
        "initial_pages": max(initial, default=0),
        "memory_max_at_least": 0,
    }
