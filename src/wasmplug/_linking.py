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

from . import _host_env, _wasi
from . import _wasmtime as wasmtime
from ._callpath import CallPath
from ._errors import LoadError
from ._host_functions import DEFAULT_NAMESPACE, Function
from ._kernel import HOST_ENV_IN_KERNEL, KERNEL_FUNCTIONS
from ._records import factory, record
from .binary import Item, Signature

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


@record
class LinkPlan:
    host: list[tuple[str, str, str]] = factory(list)       # module, name, host fn
    legacy_kernel: list[tuple[str, str]] = factory(list)   # import name, kernel fn
    user: list[tuple[str, str, Function]] = factory(list)  # module, name, function
    modules: list[tuple[str, wasmtime.Module]] = factory(list)  # dependency order
    uses_legacy_abi: bool = False
    uses_wasi: bool = False
    # config_get, var_get or var_set imported: the kernel serves them by calling Python
    uses_kernel_host_env: bool = False


def _check_signature(item: Item, expected: Signature, where: str) -> None:
    if isinstance(item, str):
        raise LoadError(f"Unable to create Extism plugin: {where} is a {item}, not a function")
    if item != expected:
        raise LoadError(
            f"Unable to create Extism plugin: {where} has type {item[0]} -> {item[1]}, "
            f"but the host provides {expected[0]} -> {expected[1]}")


def _abi_signature(name: str) -> Signature | None:
    if name in KERNEL_FUNCTIONS:
        return KERNEL_FUNCTIONS[name]
    entry = _host_env.HOST_FUNCTIONS.get(name)
    return (entry[0], entry[1]) if entry else None


def _dependency_order(modules: Sequence[tuple[str, wasmtime.Module]],
                      imports: dict[str, dict[tuple[str, str], Item]],
                      ) -> list[tuple[str, wasmtime.Module]]:
    names = {name for name, _ in modules}
    deps = {name: {module for module, _ in imports[name] if module in names and module != name}
            for name, _ in modules}
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


def plan_links(modules: Sequence[tuple[str, wasmtime.Module]],
               items: dict[str, tuple[dict[tuple[str, str], Item], dict[str, Item]]],
               functions: Iterable[Function], wasi: bool) -> LinkPlan:
    """Classify and check every import; `modules` ends with `main`.

    `items` holds each module's imports and exports as `binary.signatures`
    reads them (wasmtime-py's own type objects abort the process on some
    value types, so they are never used here).
    """
    plan = LinkPlan(uses_wasi=wasi)
    user: dict[tuple[str, str], Function] = {}
    for fn in functions:  # a later definition of the same name wins
        user[(fn.namespace or DEFAULT_NAMESPACE, fn.name)] = fn
        if fn.namespace is None:
            user.setdefault((LEGACY_NAMESPACE, fn.name), fn)
    exported = {(name, export) for name, _ in modules[:-1] for export in items[name][1]}
    needed_host: set[tuple[str, str, str]] = set()
    needed_kernel: set[tuple[str, str]] = set()
    needed_user: dict[tuple[str, str], Function] = {}

    for module_name, _ in modules:
        for key, item in items[module_name][0].items():
            imp_module, imp_name = key
            where = f"module '{module_name}' import {imp_module}.{imp_name}"
            if imp_module == KERNEL_NAMESPACE:
                if isinstance(item, str) and item != "func":
                    raise LoadError(
                        "Unable to create Extism plugin: linked modules cannot access "
                        f"non-function exports of extism kernel ({where})")
                expected = _abi_signature(imp_name)
                if expected is None:
                    raise LoadError(
                        f"Unable to create Extism plugin: Invalid function import from "
                        f"{KERNEL_NAMESPACE}: {imp_name} ({where}) is not part of the Extism ABI "
                        "this host implements; the plug-in may need a newer host")
                _check_signature(item, expected, where)
                if imp_name in _host_env.HOST_FUNCTIONS:
                    needed_host.add((KERNEL_NAMESPACE, imp_name, imp_name))
                plan.uses_kernel_host_env |= imp_name in HOST_ENV_IN_KERNEL
            elif key in user:
                fn = user[key]
                _check_signature(item, (fn.params_types, fn.results_types), where)
                needed_user[key] = fn
            elif (imp_module == LEGACY_NAMESPACE and imp_name.startswith(LEGACY_PREFIX)
                  and imp_name[len(LEGACY_PREFIX):] in LEGACY_NAMES):
                plan.uses_legacy_abi = True
                name = imp_name[len(LEGACY_PREFIX):]
                expected = _abi_signature(name)
                assert expected is not None
                _check_signature(item, expected, where)
                if name in KERNEL_FUNCTIONS:
                    needed_kernel.add((imp_name, name))
                    plan.uses_kernel_host_env |= name in HOST_ENV_IN_KERNEL
                else:
                    needed_host.add((LEGACY_NAMESPACE, imp_name, name))
            elif imp_module in WASI_NAMESPACES:
                if not wasi:
                    raise LoadError(
                        f"Unable to create Extism plugin: {where} needs WASI, which is off; "
                        "create the plug-in with wasi=True to grant it")
            elif key in exported:
                continue
            else:
                raise LoadError(
                    f"Unable to create Extism plugin: unknown import {imp_module}.{imp_name} "
                    f"({where}): the host provides no such function; register it as a host "
                    "function or add the module that exports it to the manifest")
    plan.host = sorted(needed_host)
    plan.legacy_kernel = sorted(needed_kernel)
    plan.user = [(module, name, fn) for (module, name), fn in needed_user.items()]
    plan.modules = _dependency_order(modules[:-1], {n: items[n][0] for n, _ in modules})
    return plan


def template_linker(plan: LinkPlan, engine: wasmtime.Engine, path: CallPath) -> wasmtime.Linker:
    """A linker with what does not depend on a store: host and user functions, WASI,
    and the host functions the kernel imports.

    Each plug-in clones it, instantiates its kernel with it and adds that kernel
    (`link_store`).
    """
    linker = wasmtime.Linker(engine)
    linker.allow_shadowing = True
    for module, name, host_name in plan.host:
        params, results, impl = _host_env.HOST_FUNCTIONS[host_name]
        path.define(linker, module, name, params, results, impl)
    if plan.uses_wasi:
        linker.define_wasi()
        _wasi.define_poll_oneoff(linker)  # clock waits that end with the call
    for module, name, fn in plan.user:
        path.define(linker, module, name, fn.params_types, fn.results_types, fn._impl)
    # What the kernel imports, last: no user function can shadow it.
    for name, (params, results, impl) in _host_env.KERNEL_IMPORTS.items():
        path.define(linker, _host_env.KERNEL_IMPORTS_NAMESPACE, name, params, results, impl)
    return linker


def link_store(plan: LinkPlan, linker: wasmtime.Linker, store: wasmtime.Store,
               kernel: wasmtime.Instance) -> None:
    """Add one store's kernel to a clone of the template linker."""
    linker.define_instance(store, KERNEL_NAMESPACE, kernel)
    if plan.legacy_kernel:
        exports = kernel.exports(store)
        for import_name, kernel_name in plan.legacy_kernel:
            linker.define(store, LEGACY_NAMESPACE, import_name, exports[kernel_name])
