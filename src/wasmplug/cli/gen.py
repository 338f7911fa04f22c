"""`wasmplug gen`: the utility maker. An LLM writes a JavaScript function; the sandbox runs it.

    wasmplug gen new vowels -d "count the vowels in the input"
    echo "hello world" | wasmplug gen run vowels
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from .. import Error

F = TypeVar("F", bound=Callable[..., Any])


def _fail(message: str) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(1)


def _errors(fn: F) -> F:
    """Report a wasmplug.Error as `error: ...` with exit status 1."""
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except Error as exc:
            _fail(str(exc))
    return wrapper  # type: ignore[return-value]


def _sandbox_options(fn: F) -> F:
    options = [
        click.option("--timeout", type=click.FloatRange(min=0.001), default=2.0, show_default=True,
                     help="Seconds a run may take."),
        click.option("--memory", "memory_mib", type=click.IntRange(min=1), default=32,
                     show_default=True, help="MiB of memory the JavaScript engine may use."),
        click.option("--fuel", type=click.IntRange(min=1), default=None,
                     help="Wasm instructions a run may execute (default: no fuel limit)."),
        click.option("--max-output", "max_output_mib", type=click.FloatRange(min=0), default=8.0,
                     show_default=True, help="MiB of output a run may return."),
        click.option("--allow-host", "allow_hosts", multiple=True, metavar="HOST",
                     help="Let Http.request reach HOST (a glob; repeatable). Default: no network."),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def _limits(timeout: float, memory_mib: int, fuel: int | None, max_output_mib: float,
            allow_hosts: tuple[str, ...]) -> Any:
    from ..gen import Limits

    return Limits(timeout_s=timeout, memory_bytes=memory_mib * 1024 * 1024, fuel=fuel,
                  allowed_hosts=allow_hosts, max_output_bytes=int(max_output_mib * 1024 * 1024))


def _store(ctx: click.Context) -> Any:
    from ..gen import Store

    return Store(ctx.obj)


@click.group("gen")
@click.option("--dir", "root", type=click.Path(file_okay=False, path_type=Path),
              envvar="WASMPLUG_GEN_DIR", help="Where functions are saved "
              "(default: the user data directory; env WASMPLUG_GEN_DIR).")
@click.pass_context
def command(ctx: click.Context, root: Path | None) -> None:
    """Make text utilities from a description: an LLM writes JavaScript, the Wasm sandbox runs it.

    Needs OPENAI_API_KEY (and OPENAI_BASE_URL for another OpenAI-compatible server)
    to generate; running saved functions needs neither.
    """
    ctx.obj = root


@command.command("new")
@click.argument("name")
@click.option("--description", "-d", required=True, help="What the function should do.")
@click.option("--model", "-m", default=None, help="Chat model (default: gpt-4o-mini).")
@click.option("--attempts", type=click.IntRange(min=1), default=3, show_default=True,
              help="Answers to ask for, sending failures back each time.")
@click.option("--force", is_flag=True, help="Replace a function of the same name.")
@click.option("--keep-failing", is_flag=True,
              help="Save the function even if none of its examples pass (or it has none).")
@_sandbox_options
@click.pass_context
@_errors
def new(ctx: click.Context, /, name: str, description: str, model: str | None, attempts: int,
        force: bool, keep_failing: bool, **sandbox: Any) -> None:
    """Generate the function NAME from a description, check it in the sandbox and save it."""
    from ..gen import ChatClient, FunctionSandbox, Progress, generate

    store = _store(ctx)
    if store.exists(name) and not force:
        _fail(f"a function named {name!r} exists: pass --force to replace it, or "
              f"`wasmplug gen rm {name}` first")

    def report(step: Progress) -> None:
        if step.problem is not None:
            shown = step.problem if len(step.problem) < 500 else step.problem[:500] + "..."
            click.echo(f"attempt {step.attempt}/{step.attempts}: {shown}", err=True)

    import logging  # here: `gen run` and the others never need it

    client = ChatClient.from_env(model=model)
    # the client's 429 back-off waits (up to 30 s a retry): say so on stderr
    waiting = logging.StreamHandler(sys.stderr)
    waiting.setFormatter(logging.Formatter("%(message)s"))
    waiting.addFilter(lambda record: "retrying in" in record.getMessage())
    gen_log = logging.getLogger("wasmplug.gen")
    gen_log.addHandler(waiting)
    level = gen_log.level
    gen_log.setLevel(min(level or logging.INFO, logging.INFO))
    try:
        function = generate(name, description, client, FunctionSandbox(_limits(**sandbox)),
                            attempts=attempts, progress=report)
    finally:
        client.close()
        gen_log.removeHandler(waiting)
        gen_log.setLevel(level)
    total = len(function.examples)
    if function.passed == 0 and not keep_failing:
        click.echo(function.code)
        what = f"none of its {total} examples pass" if total else "it came with no examples to check it"
        _fail(f"{name} was not saved: {what}; describe the function differently, allow more "
              "--attempts, or pass --keep-failing to save it anyway")
    folder = store.save(function)
    click.echo(function.code)
    click.echo(f"saved {name} in {folder} ({function.passed}/{total} examples pass, "
               f"attempt {function.attempts})", err=True)
    if function.passed < total:
        click.echo(f"warning: {total - function.passed} example(s) still fail: check them with "
                   f"`wasmplug gen show {name}`, or `wasmplug gen edit {name}`", err=True)


@command.command("run")
@click.argument("name")
@click.option("--input", "-i", "input_text", default=None,
              help="The input (default: standard input when it is not a terminal).")
@click.option("--keep-newline", is_flag=True,
              help="Keep the one trailing newline of standard input (`echo` adds it; dropped by "
                   "default).")
@_sandbox_options
@click.pass_context
@_errors
def run(ctx: click.Context, /, name: str, input_text: str | None, keep_newline: bool,
        **sandbox: Any) -> None:
    """Run the saved function NAME on the input and print its output."""
    from ..gen import FunctionSandbox

    function = _store(ctx).load(name)
    if input_text is None:
        input_text = "" if sys.stdin.isatty() else _stdin_text(keep_newline)
    click.echo(FunctionSandbox(_limits(**sandbox)).run(function.code, input_text))


def _stdin_text(keep_newline: bool) -> str:
    """Standard input as text (UTF-8), without its one trailing newline unless kept."""
    data = sys.stdin.buffer.read()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        _fail(f"standard input is not valid UTF-8 (byte 0x{data[exc.start]:02x} at offset "
              f"{exc.start}): the function takes text; convert the input (e.g. with iconv) or "
              "pass it with --input")
        raise  # not reached: _fail exits
    if not keep_newline:
        text = text[:-2] if text.endswith("\r\n") else text[:-1] if text.endswith("\n") else text
    return text


@command.command("list")
@click.pass_context
@_errors
def list_(ctx: click.Context) -> None:
    """List the saved functions."""
    store = _store(ctx)
    names = store.names()
    if not names:
        click.echo(f"no functions in {store.root}", err=True)
    for name in names:
        function = store.load(name)
        click.echo(f"{name}\t{function.passed}/{len(function.examples)}\t{function.description}")


@command.command("show")
@click.argument("name")
@click.pass_context
@_errors
def show(ctx: click.Context, name: str) -> None:
    """Show a function's description, examples and code."""
    function = _store(ctx).load(name)
    modified = "  (modified outside `wasmplug gen edit`)" if function.modified else ""
    click.echo(f"name:        {function.name}\n"
               f"description: {function.description}\n"
               f"model:       {function.model}\n"
               f"created:     {function.created}\n"
               f"sha256:      {function.sha256}{modified}\n"
               f"examples:    {function.passed}/{len(function.examples)} pass "
               f"(attempt {function.attempts})")
    for example in function.examples:
        got = f"error: {example.error}" if example.error is not None else repr(example.output)
        mark = "pass" if example.passed else "FAIL"
        click.echo(f"  {mark}  {example.input!r} -> expected {example.expected!r}, got {got}")
    click.echo("")
    click.echo(function.code)


@command.command("rm")
@click.argument("name")
@click.pass_context
@_errors
def rm(ctx: click.Context, name: str) -> None:
    """Delete a saved function."""
    _store(ctx).remove(name)
    click.echo(f"removed {name}", err=True)


@command.command("edit")
@click.argument("name")
@_sandbox_options
@click.pass_context
@_errors
def edit(ctx: click.Context, /, name: str, **sandbox: Any) -> None:
    """Edit a function's code in $EDITOR, then check it and re-run its examples."""
    from ..gen import FunctionSandbox, edited

    store = _store(ctx)
    function = store.load(name)
    path = store.path(name) / "function.js"
    click.edit(filename=str(path))
    updated = edited(function, path.read_text(encoding="utf-8"), FunctionSandbox(_limits(**sandbox)))
    if updated is None:
        click.echo(f"{name}: unchanged", err=True)
        return
    store.save(updated)
    click.echo(f"{name}: saved ({updated.passed}/{len(updated.examples)} examples pass)", err=True)


@command.command("export")
@click.argument("name")
@click.option("--output", "-o", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The .wasm file to write.")
@click.pass_context
@_errors
def export(ctx: click.Context, name: str, output: Path) -> None:
    """Build NAME into a standalone Extism plug-in (export `run`), runnable by any Extism host."""
    from ..gen import export_plugin

    export_plugin(_store(ctx).load(name), output)
    click.echo(f"wrote {output}: an Extism plug-in whose export `run` takes the input text; "
               f"it needs WASI: `wasmplug call {output} run --wasi --input TEXT`", err=True)
