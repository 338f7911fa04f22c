"""The `wasmplug` command: try, inspect and host plug-ins from the shell.

One module per command group (`call.py`, `info.py`, ...). Each defines a click
command named `command`; `COMMANDS` below maps the command's name to its module,
which is imported only when that command runs, so `wasmplug call` never pays for
importing the web or LLM applications.
"""

from __future__ import annotations

import gc
import importlib

import click

COMMANDS: dict[str, str] = {
    "call": "call",
    "deploy": "deploy",
    "ext": "ext",
    "gamebox": "gamebox",
    "gen": "gen",
    "info": "info",
    "js": "js",
    "serve": "serve",
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


def _print_version(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    """--version, computed only when asked for (it reads the package metadata: ~20 ms)."""
    if not value or ctx.resilient_parsing:
        return
    from .. import extism_version

    click.echo(extism_version())
    ctx.exit()


@click.group(cls=_LazyGroup)
@click.option("--version", is_flag=True, expose_value=False, is_eager=True, callback=_print_version,
              help="Show the version and exit.")
def main() -> None:
    """Run Extism WebAssembly plug-ins safely from the command line."""
    if _own_process:
        # Everything imported so far (wasmplug, wasmtime's bindings, click, the command's
        # module) lives until exit: keep it out of every garbage collection, the one at
        # interpreter exit included (~10-20 ms of a short command's CPU time).
        gc.freeze()


_own_process = False


def run() -> None:
    """The `wasmplug` program (`python -m wasmplug`, the console script).

    `main` is the click group (tests invoke it in-process); `run` also tells it that
    the process is its own, so it may freeze the imported objects for the GC.
    """
    global _own_process
    _own_process = True
    main()
