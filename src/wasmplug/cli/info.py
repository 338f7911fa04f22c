"""`wasmplug info`: what a plug-in exports, imports and needs, without instantiating it.

Works for every plug-in wasmplug can load (WASI, host-function imports, the
legacy 0.x ABI, multi-module manifests): modules are read, verified and
compiled (through the module cache), never linked or run.
"""

from __future__ import annotations

import json
import time
from typing import Any

import click
import wasmtime

from .. import Error, LoadError
from ..binary import Item, custom_sections, memories, producers, signatures
from ..cache import cache_dir, entry_key
from ..engine import EngineSettings, runtime
from ..host_env import HOST_FUNCTIONS
from ..kernel import KERNEL_FUNCTIONS
from ..linking import KERNEL_NAMESPACE, LEGACY_NAMES, LEGACY_NAMESPACE, LEGACY_PREFIX, WASI_NAMESPACES
from ..manifest import from_dict, load_modules
from .exit_codes import EPILOG, LOAD_FAILED, fail
from .plugin_source import manifest_for

CALLABLE = {((), ()), ((), ("i32",))}


def _signature(item: Item) -> str:
    if isinstance(item, str):
        return item
    params, results = item
    return f"({', '.join(params)}) -> ({', '.join(results)})"


def _provider(module: str, name: str, item: Item, exported: dict[str, set[str]]) -> tuple[str, str]:
    """(who provides the import, how): wasmplug's kernel/host env/WASI/legacy, a module, or the host."""
    if module == KERNEL_NAMESPACE:
        if name in HOST_FUNCTIONS:
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


def describe(manifest_dict: dict[str, Any]) -> dict[str, Any]:
    """Everything `info` prints, as JSON-ready data (LoadError if it cannot be loaded)."""
    manifest = from_dict(manifest_dict)
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
        directory = cache_dir()
        cached = directory is not None and (
            directory / f"{entry_key(module.sha256, rt.settings.fingerprint())}.cwasm").is_file()
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


def _print(report: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(highlight=False, soft_wrap=True)
    for module in report["modules"]:
        console.print(f"[bold]module {module['name']}[/bold]  {module['size']:,} bytes  "
                      f"sha256 {module['sha256']}")
        console.print(f"  compiled in {module['compile_seconds'] * 1000:.1f} ms"
                      f"{' (from the cache)' if module['from_cache'] else ''}")
        exports = Table("export", "signature", "Extism function", box=None, padding=(0, 2))
        for e in module["exports"]:
            exports.add_row(e["name"], e["signature"], "yes" if e["extism_function"] else "")
        console.print(exports)
        by_namespace: dict[str, list[dict[str, Any]]] = {}
        for i in module["imports"]:
            by_namespace.setdefault(i["module"], []).append(i)
        for namespace, items in by_namespace.items():
            console.print(f"  imports from [bold]{namespace}[/bold]")
            table = Table(box=None, show_header=False, padding=(0, 2))
            for i in items:
                table.add_row("   " + i["name"], i["signature"], i["how"])
            console.print(table)
        for m in module["memories"]:
            console.print(f"  memory ({m['origin']}): {m['initial_pages']} pages initial, "
                          f"{'no maximum' if m['max_pages'] is None else str(m['max_pages']) + ' max'}")
        for c in module["custom_sections"]:
            extra = "".join(f"; {k}: {', '.join(v)}" for k, v in c.get("producers", {}).items())
            console.print(f"  custom section {c['name']!r}: {c['size']:,} bytes{extra}")
    console.print(f"callable functions: {', '.join(report['functions']) or 'none'}")
    console.print(f"--memory-max needed at least: {report['memory_max_at_least']} pages (it counts "
                  f"growth beyond the initial {report['initial_pages']} pages; `extism call` "
                  f"counts the total: {report['initial_pages']})")
    if report["needs_wasi"]:
        console.print("needs --wasi")
    if report["host_functions_needed"]:
        console.print("needs host functions a host program must provide (cannot run from the "
                      "command line alone): " + ", ".join(report["host_functions_needed"]))


@click.command("info", epilog=EPILOG, context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("plugin")
@click.option("-m", "--manifest", "is_manifest", is_flag=True,
              help="PLUGIN is a JSON or TOML manifest (its relative paths: from its folder).")
@click.option("--hash", "sha256", metavar="SHA256",
              help="Refuse the plug-in unless its main module has this SHA-256.")
@click.option("--link", multiple=True, metavar="NAME=PATH",
              help="Add a module the plug-in imports from as NAME (repeatable).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def command(plugin: str, is_manifest: bool, sha256: str | None, link: tuple[str, ...],
            as_json: bool) -> None:
    """Describe PLUGIN without running it: size, sha256, exports with their
    signatures, imports and who provides them, memories, custom sections,
    compile time."""
    manifest = manifest_for(plugin, manifest=is_manifest, sha256=sha256, links=link)
    try:
        report = describe(manifest)
    except Error as exc:
        fail(LOAD_FAILED, str(exc))
    except KeyboardInterrupt:
        fail(130, "interrupted")
    if as_json:
        click.echo(json.dumps(report, indent=2))
    else:
        _print(report)

