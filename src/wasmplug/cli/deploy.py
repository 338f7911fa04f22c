"""`wasmplug deploy NAME plugin.wasm|plugin.js|manifest.json --server URL --token T`: deploy a function."""

from __future__ import annotations

import json
from pathlib import Path

import click

from .api_client import api_request, server_options


def _pairs(values: tuple[str, ...], option: str) -> dict[str, str]:
    result = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{item!r} is not KEY=VALUE", param_hint=option)
        result[key] = value
    return result


@click.command("deploy")
@click.argument("name")
@click.argument("module", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@server_options(server_env="WASMPLUG_SERVER", token_env="WASMPLUG_TOKEN", default_server="http://127.0.0.1:8080",
                server_help="The wasmplug serve server.",
                token_help="An API token (wasmplug serve token create).")
@click.option("--config", "config", multiple=True, metavar="K=V", help="Config the plug-in reads.")
@click.option("--secret", "secrets", multiple=True, metavar="K=V",
              help="Secret config: the plug-in reads it, the API never shows it.")
@click.option("--allow-host", multiple=True, metavar="HOST", help="A host the plug-in may call.")
@click.option("--memory-max", type=int, default=None, metavar="PAGES", help="Memory cap (64 KiB pages).")
@click.option("--timeout", type=int, default=None, metavar="MS", help="Time limit of one call.")
@click.option("--fuel", type=int, default=None, metavar="N", help="Instruction limit of one call.")
@click.option("--wasi", is_flag=True, default=None, help="Run with WASI (no files, no network).")
@click.option("--public", is_flag=True, default=None, help="Anyone may call it (default: tokens only).")
@click.option("--max-instances", type=int, default=None, help="Concurrent instances at most.")
@click.option("--fresh-instance", is_flag=True, default=None, help="A new instance for every request.")
@click.option("--route", default=None, help="Serve HTTP requests under this path (e.g. /hello).")
@click.option("--route-export", default=None, help="The export that handles the route (default: handle).")
@click.option("--sample-input", default=None, help="Try the function with this input before it goes live.")
@click.option("--sample-export", default=None, help="The export the trial calls.")
def command(name: str, module: Path, server: str, token: str, config: tuple[str, ...],
            secrets: tuple[str, ...], allow_host: tuple[str, ...], memory_max: int | None,
            timeout: int | None, fuel: int | None, wasi: bool | None, public: bool | None,
            max_instances: int | None, fresh_instance: bool | None, route: str | None,
            route_export: str | None, sample_input: str | None, sample_export: str | None) -> None:
    """Deploy MODULE (.wasm, .js or a manifest .json) as the function NAME."""
    settings: dict[str, object] = {"config": _pairs(config, "--config")}
    if secrets:
        settings["secret_config"] = _pairs(secrets, "--secret")
    if allow_host:
        settings["allowed_hosts"] = list(allow_host)
    for key, value in (("memory_max_pages", memory_max), ("timeout_ms", timeout), ("fuel", fuel),
                       ("wasi", wasi), ("public", public), ("max_instances", max_instances),
                       ("fresh_instance", fresh_instance), ("route", route),
                       ("route_export", route_export), ("sample_input", sample_input),
                       ("sample_export", sample_export)):
        if value is not None:
            settings[key] = value
    files: dict[str, tuple[str | None, bytes, str]] = {
        "module": (module.name, module.read_bytes(), "application/octet-stream"),
        "settings": (None, json.dumps(settings).encode(), "application/json")}
    status, body = api_request("PUT", server, f"/api/functions/{name}", token, files=files, timeout=300)
    if status not in (200, 201):
        raise click.ClickException(f"{body['error']} ({body.get('kind', f'HTTP {status}')})")
    where = server + (body.get("route") or body["url"])
    click.echo(f"deployed {body['name']} version {body['version']} ({', '.join(body['exports'])}): {where}")
