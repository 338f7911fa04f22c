"""Which import of a plug-in is satisfied by what (ABI.md 4 and 5.1).

`plan_links` looks at every import of every module once, when a plug-in is
compiled, and refuses anything the host will not provide with an error
naming the import. `apply_links` then defines exactly what the plan lists in
the linker of each new store.

An import can be satisfied by:
- the kernel (`extism:host/env` memory functions, linked wasm-to-wasm);
- a host environment function (`config_get`, `var_set`, `log_info`, ...);
- the same two under their legacy 0.x names (`env.extism_<name>`);
- a user host function (its namespace, default `extism:host/user`; one
  without a namespace also answers `env.<name>` for 0.x plug-ins);
- WASI preview 1, when enabled;
- an export of another module of the manifest.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import wasmtime

from . import host_env
from ._callpath import CallPath
from .errors import LoadError
from .host_functions import DEFAULT_NAMESPACE, Function
from .kernel import KERNEL_FUNCTIONS

KERNEL_NAMESPACE = "extism:host/env"
LEGACY_NAMESPACE = "env"
LEGACY_PREFIX = "extism_"
WASI_NAMESPACES = ("wasi_snapshot_preview1", "wasi_unstable")

# Names the 0.x runtimes provided (ABI.md 4); later additions are not aliased.
LEGACY_NAMES = frozenset({
    "alloc", "free", "length", "load_u8", "load_u64", "store_u8", "store_u64",
    "input_length", "input_load_u8", "input_load_u64", "output_set", "error_set",
    "config_get", "var_get", "var_set", "http_request", "http_status_code",
    "log_info", "log_debug", "log_warn", "log_error",
    "input_offset", "input_set", "output_offset", "output_length", "reset",
    "error_get", "memory_bytes",
})


@dataclass
class LinkPlan:
    host: list[tuple[str, str, str]] = field(default_factory=list)       # module, name, host fn
    legacy_kernel: list[tuple[str, str]] = field(default_factory=list)   # import name, kernel fn
    user: list[tuple[str, str, Function]] = field(default_factory=list)  # module, name, function
    modules: list[tuple[str, wasmtime.Module]] = field(default_factory=list)  # dependency order
    uses_legacy_abi: bool = False
    uses_wasi: bool = False


def _types(ty: wasmtime.FuncType) -> tuple[tuple[str, ...], tuple[str, ...]]:
    return tuple(str(p) for p in ty.params), tuple(str(r) for r in ty.results)


def _check_signature(ty: Any, expected: tuple[tuple[str, ...], tuple[str, ...]],
                     where: str) -> None:
    if not isinstance(ty, wasmtime.FuncType):
        raise LoadError(f"Unable to create Extism plugin: {where} is not a function import")
    actual = _types(ty)
    if actual != expected:
        raise LoadError(
            f"Unable to create Extism plugin: {where} has type {actual[0]} -> {actual[1]}, "
            f"but the host provides {expected[0]} -> {expected[1]}")


def _abi_signature(name: str) -> tuple[tuple[str, ...], tuple[str, ...]] | None:
    if name in KERNEL_FUNCTIONS:
        return KERNEL_FUNCTIONS[name]
    entry = host_env.HOST_FUNCTIONS.get(name)
    return (entry[0], entry[1]) if entry else None


def _dependency_order(modules: Sequence[tuple[str, wasmtime.Module]]) -> list[tuple[str, wasmtime.Module]]:
    names = {name for name, _ in modules}
    deps = {name: {imp.module for imp in module.imports if imp.module in names and imp.module != name}
            for name, module in modules}
    ordered: list[tuple[str, wasmtime.Module]] = []
    done: set[str] = set()
    pending = list(modules)
    while pending:
        ready = [(n, m) for n, m in pending if deps[n] <= done]
        if not ready:
            cycle = ", ".join(n for n, _ in pending)
            raise LoadError(f"Unable to create Extism plugin: the modules {cycle} import from "
                            "each other in a cycle; break the cycle")
        for item in ready:
            ordered.append(item)
            done.add(item[0])
            pending.remove(item)
    return ordered


def plan_links(modules: Sequence[tuple[str, wasmtime.Module]], functions: Iterable[Function],
               wasi: bool) -> LinkPlan:
    """Classify and check every import; `modules` ends with `main`."""
    plan = LinkPlan(uses_wasi=wasi)
    user: dict[tuple[str, str], Function] = {}
    for fn in functions:  # a later definition of the same name wins
        user[(fn.namespace or DEFAULT_NAMESPACE, fn.name)] = fn
        if fn.namespace is None:
            user.setdefault((LEGACY_NAMESPACE, fn.name), fn)
    exported: dict[tuple[str, str], Any] = {
        (name, e.name): e.type for name, module in modules[:-1] for e in module.exports}
    needed_host: set[tuple[str, str, str]] = set()
    needed_kernel: set[tuple[str, str]] = set()
    needed_user: dict[tuple[str, str], Function] = {}

    for module_name, module in modules:
        for imp in module.imports:
            assert imp.name is not None
            where = f"module '{module_name}' import {imp.module}.{imp.name}"
            key = (imp.module, imp.name)
            if imp.module == KERNEL_NAMESPACE:
                if not isinstance(imp.type, wasmtime.FuncType):
                    raise LoadError(
                        "Unable to create Extism plugin: linked modules cannot access "
                        f"non-function exports of extism kernel ({where})")
                expected = _abi_signature(imp.name)
                if expected is None:
                    raise LoadError(
                        f"Unable to create Extism plugin: Invalid function import from "
                        f"{KERNEL_NAMESPACE}: {imp.name} ({where}) is not part of the Extism ABI "
                        "this host implements; the plug-in may need a newer host")
                _check_signature(imp.type, expected, where)
                if imp.name in host_env.HOST_FUNCTIONS:
                    needed_host.add((KERNEL_NAMESPACE, imp.name, imp.name))
            elif key in user:
                fn = user[key]
                _check_signature(imp.type, (fn.params_types, fn.results_types), where)
                needed_user[key] = fn
            elif (imp.module == LEGACY_NAMESPACE and imp.name.startswith(LEGACY_PREFIX)
                  and imp.name[len(LEGACY_PREFIX):] in LEGACY_NAMES):
                plan.uses_legacy_abi = True
                name = imp.name[len(LEGACY_PREFIX):]
                expected = _abi_signature(name)
                assert expected is not None
                _check_signature(imp.type, expected, where)
                if name in KERNEL_FUNCTIONS:
                    needed_kernel.add((imp.name, name))
                else:
                    needed_host.add((LEGACY_NAMESPACE, imp.name, name))
            elif imp.module in WASI_NAMESPACES:
                if not wasi:
                    raise LoadError(
                        f"Unable to create Extism plugin: {where} needs WASI, which is off; "
                        "create the plug-in with wasi=True to grant it")
            elif key in exported:
                continue
            else:
                raise LoadError(
                    f"Unable to create Extism plugin: unknown import {imp.module}.{imp.name} "
                    f"({where}): the host provides no such function; register it as a host "
                    "function or add the module that exports it to the manifest")
    plan.host = sorted(needed_host)
    plan.legacy_kernel = sorted(needed_kernel)
    plan.user = [(module, name, fn) for (module, name), fn in needed_user.items()]
    plan.modules = _dependency_order(modules[:-1])
    return plan


def template_linker(plan: LinkPlan, engine: wasmtime.Engine, path: CallPath) -> wasmtime.Linker:
    """A linker with what does not depend on a store: host and user functions, WASI.

    Each plug-in clones it and adds its own kernel (`link_store`).
    """
    linker = wasmtime.Linker(engine)
    linker.allow_shadowing = True
    for module, name, host_name in plan.host:
        params, results, impl = host_env.HOST_FUNCTIONS[host_name]
        path.define(linker, module, name, params, results, impl)
    if plan.uses_wasi:
        linker.define_wasi()
    for module, name, fn in plan.user:
        path.define(linker, module, name, fn.params_types, fn.results_types, fn._impl)
    return linker


def link_store(plan: LinkPlan, linker: wasmtime.Linker, store: wasmtime.Store,
               kernel: wasmtime.Instance) -> None:
    """Add one store's kernel to a clone of the template linker."""
    linker.define_instance(store, KERNEL_NAMESPACE, kernel)
    if plan.legacy_kernel:
        exports = kernel.exports(store)
        for import_name, kernel_name in plan.legacy_kernel:
            linker.define(store, LEGACY_NAMESPACE, import_name, exports[kernel_name])
