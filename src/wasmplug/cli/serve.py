"""`wasmplug serve`: run deployed plug-ins behind HTTP; `wasmplug serve token create` makes API tokens."""

from __future__ import annotations

import asyncio
import gc
import logging
import socket
import sys
from pathlib import Path

import click

DATA_DIR_HELP = "The server's data folder (SQLite database serve.db)."
DATABASE_HELP = "The database instead (any SQLAlchemy URL, e.g. postgresql+psycopg://...)."


def _settings(data_dir: Path | None, database_url: str | None, **more: object) -> object:
    try:
        from ..serve.settings import ServerSettings
    except ImportError as exc:
        raise click.ClickException(f"wasmplug serve needs its extra: pip install 'wasmplug[serve]' "
                                   f"({exc})") from None
    return ServerSettings(data_dir=data_dir or Path("serve-data"), database_url=database_url,
                          **more)  # type: ignore[arg-type]


@click.group("serve", invoke_without_command=True)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8080, show_default=True, type=int, help="Port (0: any free port).")
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help=DATA_DIR_HELP + " Default: ./serve-data.")
@click.option("--database-url", default=None, envvar="WASMPLUG_SERVE_DATABASE_URL", help=DATABASE_HELP)
@click.option("--max-body-kb", default=1024, show_default=True, type=click.IntRange(1, 1024 * 1024),
              help="Size cap of an invocation's request body.")
@click.option("--ray", "ray_address", default=None, metavar="ADDRESS",
              help="Run the functions' instances as actors of the Ray cluster at ADDRESS (e.g. "
                   "10.0.0.5:6379); several front ends then share one --database-url.")
@click.option("--allow-private-hosts", is_flag=True,
              help="Let deployers allow HTTP to loopback, private and link-local addresses.")
@click.option("--allow-network", "allow_networks", multiple=True, metavar="CIDR",
              help="Let functions' HTTP connect to addresses of this non-public network (e.g. "
                   "10.1.0.0/16; repeatable). Without it, a host resolving to a loopback, private, "
                   "link-local, multicast or reserved address is refused.")
@click.option("--docs-url", default=None, metavar="URL",
              help="Where the index page's Documentation link goes (your docs for the functions' users).")
@click.pass_context
def command(ctx: click.Context, host: str, port: int, data_dir: Path | None, database_url: str | None,
            max_body_kb: int, ray_address: str | None, allow_private_hosts: bool,
            allow_networks: tuple[str, ...], docs_url: str | None) -> None:
    """Serve deployed functions: POST /f/NAME/EXPORT, HTTP routes, the deploy API, /metrics."""
    if ctx.invoked_subcommand is not None:
        return
    try:
        settings = _settings(data_dir, database_url, max_body_bytes=max_body_kb * 1024,
                             allow_private_hosts=allow_private_hosts, ray_address=ray_address,
                             allowed_networks=allow_networks, docs_url=docs_url)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--docs-url" if str(exc).startswith("docs_url")
                                 else "--allow-network") from None
    try:  # uvloop when installed (uvicorn's own choice): a cheaper event loop
        import uvloop

        loop_factory = uvloop.new_event_loop
    except ImportError:
        loop_factory = None
    with asyncio.Runner(loop_factory=loop_factory) as runner:
        runner.run(_serve(settings, host, port))


async def _serve(settings: object, host: str, port: int) -> None:
    import uvicorn

    from ..serve.app import create_app
    from ..serve.metrics import start_access_log

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    # Plug-ins' own log lines stay out of the server's log (a plug-in could flood it); with no
    # handler for them, plug-ins see the level "off" and do not even format them.
    logging.getLogger("wasmplug.plugin").propagate = False
    # The core's per-call events too: a call that hits a limit is in the access log already (its
    # outcome), and at INFO every call would take the core's slower, logging path.
    logging.getLogger("wasmplug.runtime").setLevel(logging.WARNING)
    access = start_access_log(sys.stderr)
    app = create_app(settings)  # type: ignore[arg-type]
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(1024)
    bound = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
    # Everything imported so far lives as long as the process: out of the garbage collector's sight,
    # a full collection no longer walks it (it took 80-220 ms, a stall of the event loop, about
    # every ten seconds under load).
    gc.freeze()
    click.echo(f"wasmplug serve is serving on http://{host}:{bound}/", nl=True)
    try:
        await server.serve(sockets=[sock])
    finally:
        access.stop()


@command.group("token")
def token() -> None:
    """API tokens (they deploy functions and call the protected ones)."""


@token.command("create")
@click.argument("name")
@click.option("--admin", is_flag=True, help="The token may manage every user's functions.")
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help=DATA_DIR_HELP + " Default: ./serve-data.")
@click.option("--database-url", default=None, envvar="WASMPLUG_SERVE_DATABASE_URL", help=DATABASE_HELP)
def create(name: str, admin: bool, data_dir: Path | None, database_url: str | None) -> None:
    """Make an API token for the user NAME (made if new) and print it: it is shown only once."""
    from .. import Error
    from ..serve.database import FunctionStore, ServeDatabase

    settings = _settings(data_dir, database_url)
    db = ServeDatabase(settings.url())  # type: ignore[attr-defined]
    try:
        db.upgrade()
        click.echo(FunctionStore(db).create_token(name, admin=admin))
    except Error as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        db.close()
