"""The `wasmplug` command: try a plug-in without writing a host."""

from __future__ import annotations

import sys
from typing import BinaryIO

import click

from . import Error, Plugin, extism_version


@click.group()
@click.version_option(extism_version(), message="%(version)s")
def main() -> None:
    """Run Extism WebAssembly plug-ins safely from the command line."""


@main.command()
@click.argument("plugin")
@click.argument("function")
@click.option("--input", "-i", "input_text", default="", help="Input text passed to the function.")
@click.option("--input-file", type=click.File("rb"), help="Read the input from a file ('-': stdin).")
@click.option("--config", "-c", multiple=True, metavar="KEY=VALUE", help="Set a config value.")
def call(plugin: str, function: str, input_text: str, input_file: BinaryIO | None,
         config: tuple[str, ...]) -> None:
    """Call FUNCTION of PLUGIN (a .wasm file or a JSON/TOML manifest) and print its output."""
    settings: dict[str, str] = {}
    for item in config:
        key, sep, value = item.partition("=")
        if not sep:
            raise click.BadParameter(f"expected KEY=VALUE, got {item!r}", param_hint="--config")
        settings[key] = value
    data = input_file.read() if input_file is not None else input_text.encode()
    try:
        with Plugin(plugin, config=settings) as loaded:
            output: bytes = loaded.call(function, data)
    except Error as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    sys.stdout.buffer.write(output)
    if output and not output.endswith(b"\n") and sys.stdout.isatty():
        sys.stdout.buffer.write(b"\n")


@main.command()
@click.argument("plugin")
def info(plugin: str) -> None:
    """List the functions PLUGIN exports and the host functions it imports."""
    from .plugin import CompiledPlugin

    try:
        compiled = CompiledPlugin(plugin)
    except Error as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    click.echo("exports:")
    for name in sorted(n for n in compiled._exports if compiled.function_exists(n)):
        click.echo(f"  {name}")
    click.echo("imports:")
    for name, module in compiled.modules:
        for imp in module.imports:
            click.echo(f"  {imp.module}.{imp.name}  ({name})")
