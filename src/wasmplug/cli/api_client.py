"""What the commands that talk to a wasmplug server's API share (`wasmplug deploy`, `wasmplug gamebox
upload`): the `--server` and `--token` options, and one authenticated request whose failures become
clear command-line errors."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])
MAX_SHOWN = 300  # characters of an answer that is not the API's JSON


def server_options(*, server_env: str, token_env: str, server_help: str, token_help: str,
                   default_server: str | None = None) -> Callable[[F], F]:
    """`--server URL` (an http(s) URL; required unless there is a default) and `--token T`."""

    def check_url(_ctx: click.Context, _param: click.Parameter, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise click.BadParameter(f"{value!r} is not an http:// or https:// URL")
        return value.rstrip("/")

    def decorate(command: F) -> F:
        command = click.option("--token", required=True, envvar=token_env, help=token_help)(command)
        return click.option("--server", required=default_server is None, default=default_server,
                            show_default=default_server is not None, envvar=server_env,
                            callback=check_url, help=server_help)(command)

    return decorate


def api_request(method: str, server: str, path: str, token: str, *, timeout: float,
                **kwargs: Any) -> tuple[int, dict[str, Any]]:
    """(status, the JSON object answered) of `method server+path` with the token; an answer that is
    not a JSON object becomes {"error": its first characters}; an unreachable server a ClickException."""
    import httpx

    try:
        response = httpx.request(method, server + path, headers={"authorization": f"Bearer {token}"},
                                 timeout=timeout, **kwargs)
    except httpx.HTTPError as exc:
        raise click.ClickException(f"cannot reach {server}: {exc}") from None
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        body = {"error": response.text[:MAX_SHOWN] or f"HTTP {response.status_code}"}
    return response.status_code, body
