"""The `wasmplug` command: try, inspect and host plug-ins from the shell.

One module per command group (`call.py`, `info.py`, ...). Each defines a click
command named `command`; `COMMANDS` below maps the command's name to its module,
which is imported only when that command runs, so `wasmplug call` never pays for
importing the web or LLM applications.
"""

from __future__ import annotations

import importlib

import click

from .. import extism_version

COMMANDS: dict[str, str] = {
    "call": "call",
    "ext": "ext",
    "gamebox": "gamebox",
    "gen": "gen",
    "info": "info",
    "js": "js",
    "sql": "sql",
}


class _LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        module = COMMANDS.get(cmd_name)
        if module is None:
            return None
        command: click.Command = importlib.import_module(f"{__name__}.{module}").command
        return command


@click.group(cls=_LazyGroup)
@click.version_option(extism_version(), message="%(version)s")
def main() -> None:
    """Run Extism WebAssembly plug-ins safely from the command line."""
