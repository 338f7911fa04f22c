"""`wasmplug ext`: check, inspect, call and benchmark the extensions of a TOML file."""

from __future__ import annotations

import json
import statistics
import sys
import time
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from .. import Error


def _host(config: str) -> Any:
    from ..extensions import ExtensionHost

    try:
        return ExtensionHost(config)
    except Error as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)


def _params(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError as exc:
        raise click.BadParameter(f"not JSON: {exc}", param_hint="--params") from None


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


@click.group("ext")
def command() -> None:
    """Extension host: extensions listed in a TOML file (see wasmplug.extensions)."""


@command.command("check")
@click.argument("config", type=click.Path(dir_okay=False))
def check(config: str) -> None:
    """Validate CONFIG, load every extension and print their status (exit 1 if one failed)."""
    with _host(config) as host:
        table = Table(title=f"extensions in {config}")
        for column in ("extension", "state", "version", "capabilities", "reason"):
            table.add_column(column, overflow="fold")
        failed = False
        for status in host.status().values():
            failed = failed or status.state == "failed"
            colour = {"ready": "green", "failed": "red"}.get(status.state, "yellow")
            table.add_row(status.name, f"[{colour}]{status.state}[/]",
                          (status.version or "-")[:12], ", ".join(status.capabilities),
                          status.reason or "")
        Console().print(table)
    sys.exit(1 if failed else 0)


@command.command("capabilities")
@click.argument("config", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def capabilities(config: str, as_json: bool) -> None:
    """List the capabilities of every ready extension in CONFIG."""
    with _host(config) as host:
        found = host.capabilities()
        if as_json:
            click.echo(json.dumps({name: [{"name": c.name, "description": c.description,
                                           "params_schema": c.params_schema,
                                           "return_schema": c.return_schema} for c in caps]
                                   for name, caps in found.items()}, indent=2))
            return
        table = Table(title="capabilities")
        for column in ("extension", "method", "description", "schemas"):
            table.add_column(column, overflow="fold")
        for name, caps in found.items():
            for cap in caps:
                schemas = "/".join(k for k, v in (("params", cap.params_schema),
                                                   ("return", cap.return_schema)) if v is not None)
                table.add_row(name, cap.name, cap.description, schemas or "-")
        Console().print(table)


@command.command("call")
@click.argument("config", type=click.Path(dir_okay=False))
@click.argument("extension")
@click.argument("method")
@click.option("--params", "-p", default="null", help="The params, as JSON.")
def call(config: str, extension: str, method: str, params: str) -> None:
    """Call METHOD of EXTENSION and print its JSON result."""
    value = _params(params)
    with _host(config) as host:
        try:
            result = host.call(extension, method, value)
        except Error as exc:
            click.echo(f"error: {type(exc).__name__}: {exc}", err=True)
            sys.exit(1)
    click.echo(json.dumps(result, ensure_ascii=False))


@command.command("bench")
@click.argument("config", type=click.Path(dir_okay=False))
@click.argument("extension")
@click.argument("method")
@click.option("--params", "-p", default="null", help="The params, as JSON.")
@click.option("--seconds", default=2.0, show_default=True, help="How long to measure.")
def bench(config: str, extension: str, method: str, params: str, seconds: float) -> None:
    """Call METHOD of EXTENSION repeatedly: calls/s and latency percentiles."""
    value = _params(params)
    with _host(config) as host:
        try:
            host.call(extension, method, value)  # warm up; fail early
        except Error as exc:
            click.echo(f"error: {type(exc).__name__}: {exc}", err=True)
            sys.exit(1)
        samples: list[float] = []
        clock = time.perf_counter
        started = clock()
        end = started + seconds
        while True:
            before = clock()
            host.call(extension, method, value)
            after = clock()
            samples.append(after - before)
            if after >= end:
                break
        total = clock() - started
    samples.sort()

    def pct(p: float) -> float:
        return samples[min(len(samples) - 1, int(len(samples) * p))] * 1e3

    table = Table(title=f"{extension}.{method}: {len(samples)} calls in {total:.2f} s")
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_row("calls/s", f"{len(samples) / total:,.0f}")
    table.add_row("mean (ms)", _ms(statistics.fmean(samples) * 1e3))
    for label, p in (("p50 (ms)", 0.5), ("p90 (ms)", 0.9), ("p99 (ms)", 0.99)):
        table.add_row(label, _ms(pct(p)))
    table.add_row("max (ms)", _ms(samples[-1] * 1e3))
    Console().print(table)
