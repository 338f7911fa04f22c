"""`wasmplug js`: JavaScript plug-ins (build, list exports, build the runtime)."""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path

import click

from .. import Error


def _runtime() -> None:
    """Make sure the runtime exists, telling the user when it is being built."""
    from .. import js

    try:
        js.runtime_path(build=False)
    except js.RuntimeMissing:
        click.echo("Building wasmplug's JavaScript runtime (QuickJS-ng, once per machine, "
                   "about a minute)...", err=True)
        handler = logging.StreamHandler(sys.stderr)
        logging.getLogger("wasmplug.js.build").addHandler(handler)
        logging.getLogger("wasmplug.js.build").setLevel(logging.INFO)
        js.runtime_path()


@click.group("js")
def command() -> None:
    """Plug-ins in JavaScript (QuickJS in Wasm, the Extism JS PDK's API)."""


@command.command("build")
@click.argument("source", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path),
              help="Where to write the plug-in (default: SOURCE with .wasm).")
@click.option("--host-function", "-f", "host_functions", multiple=True, metavar="NAME",
              help="A host function the code calls via Host.getFunctions() (repeatable): imported "
                   "as extism:host/user.NAME, type (i64) -> i64, or a signature such as "
                   "'add(I32, F64): I64'.")
@click.option("--interface", "-i", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="An extism-js interface file (.d.ts): its `interface user` in "
                   "`declare module 'extism:host'` declares the host functions, its "
                   "`declare module 'main'` the exports' signatures.")
@click.option("--kind", type=click.Choice(["auto", "module", "script"]), default="auto",
              show_default=True,
              help="What SOURCE is: an ES module, a script (CommonJS), or auto: a script if it "
                   "compiles as one, else a module (QuickJS's parser decides).")
def build(source: Path, output: Path | None, host_functions: tuple[str, ...],
          interface: Path | None, kind: str) -> None:
    """Turn SOURCE (an ES module or CommonJS file, or a bundle) into an Extism plug-in."""
    from .. import js
    from ..js import interface as dts

    code_kind = {"auto": "?", "module": "m", "script": "s"}[kind]
    try:
        declared = None
        if interface is not None:
            declared = dts.read_interface(interface.read_text("utf-8"), filename=interface.name)
            for name in declared.ignored:
                click.echo(f"warning: {interface.name}: interface {name} in '{dts.HOST_MODULE}' is "
                           f"ignored: host functions are the methods of `interface "
                           f"{dts.HOST_INTERFACE}`", err=True)
            dts.check_supported(declared, filename=interface.name)
        _runtime()
        started = time.perf_counter()
        code = source.read_bytes()
        names = js.exports_of(code, filename=source.name, kind=code_kind)
        out = output or source.with_suffix(".wasm")
        out.write_bytes(js.build(code, filename=source.name, exports=names, kind=code_kind,
                                 host_functions=host_functions, interface=declared))
    except Error as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    click.echo(f"{out}: exports {', '.join(names)} ({out.stat().st_size} bytes, "
               f"{time.perf_counter() - started:.2f} s); run it with WASI enabled", err=True)


@command.command("exports")
@click.argument("source", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def exports(source: Path) -> None:
    """List the functions SOURCE exports (what `js build` turns into plug-in exports)."""
    from .. import js

    try:
        _runtime()
        names = js.exports_of(source.read_bytes(), filename=source.name)
    except Error as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    for name in names:
        click.echo(name)


@command.command("runtime")
def runtime() -> None:
    """Build the JavaScript runtime now (if needed) and print its path.

    Also makes its pre-initialised copies (for `js build` and the sandbox), so
    the first build or sandbox after this does not wait for them.
    """
    from .. import js

    try:
        _runtime()
        js.build_base_bytes()
        js.bare_runtime_path()
        click.echo(str(js.runtime_path()))
    except Error as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
