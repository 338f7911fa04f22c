"""`wasmplug call`: call one function of a plug-in."""

from __future__ import annotations

import sys
from typing import BinaryIO

import click

from .. import Error, Plugin


@click.command("call")
@click.argument("plugin")
@click.argument("function")
@click.option("--input", "-i", "input_text", default="", help="Input text passed to the function.")
@click.option("--input-file", type=click.File("rb"), help="Read the input from a file ('-': stdin).")
@click.option("--config", "-c", multiple=True, metavar="KEY=VALUE", help="Set a config value.")
def command(plugin: str, function: str, input_text: str, input_file: BinaryIO | None,
            config: tuple[str, ...]) -> None:
    """Call FUNCTION of PLUGIN (a .wasm file, a JSON/TOML manifest or a .js file) and print its output."""
    settings: dict[str, str] = {}
    for item in config:
        key, sep, value = item.partition("=")
        if not sep:
            raise click.BadParameter(f"expected KEY=VALUE, got {item!r}", param_hint="--config")
        settings[key] = value
    data = input_file.read() if input_file is not None else input_text.encode()
    try:
        source, wasi = _source(plugin)
        with Plugin(source, wasi=wasi, config=settings) as loaded:
            output: bytes = loaded.call(function, data)
    except Error as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    sys.stdout.buffer.write(output)
    if output and not output.endswith(b"\n") and sys.stdout.isatty():
        sys.stdout.buffer.write(b"\n")


def _source(plugin: str) -> tuple[object, bool]:
    """A .js file is built in memory into a JS plug-in (which needs WASI)."""
    if plugin.endswith(".js"):
        from ..js import manifest_for

        return manifest_for(plugin), True
    return plugin, False
