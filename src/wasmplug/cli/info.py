"""`wasmplug info`: what a plug-in exports, imports and needs, without instantiating it.

A shell over `wasmplug.inspect_plugin`: works for every plug-in wasmplug can
load (WASI, host-function imports, the legacy 0.x ABI, multi-module
manifests); modules are read, verified and compiled, never linked or run.
"""

from __future__ import annotations

import json
from typing import Any

import click

from .. import Error, inspect_plugin
from .exit_codes import EPILOG, INTERRUPTED, LOAD_FAILED, fail
from .plugin_source import manifest_for


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
        report = inspect_plugin(manifest)
    except Error as exc:
        fail(LOAD_FAILED, str(exc))
    except KeyboardInterrupt:
        fail(INTERRUPTED, "interrupted")
    if as_json:
        click.echo(json.dumps(report, indent=2))
    else:
        _print(report)

