"""`wasmplug info`: what a plug-in exports and imports."""

from __future__ import annotations

import sys

import click

from .. import Error


@click.command("info")
@click.argument("plugin")
def command(plugin: str) -> None:
    """List the functions PLUGIN exports and the host functions it imports."""
    from ..plugin import CompiledPlugin

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
