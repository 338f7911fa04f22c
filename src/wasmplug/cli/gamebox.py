"""`wasmplug gamebox`: serve GameBox, or play one game while writing it."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import logging
import socket
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

import click

from .. import Error
from .api_client import api_request, server_options


def _app_modules() -> None:
    from ..gamebox import require_extra

    try:
        require_extra()
    except Error as exc:
        raise click.ClickException(str(exc)) from None


@click.group("gamebox")
def command() -> None:
    """GameBox: multiplayer games that are Wasm plug-ins, played in the browser."""


@command.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=int, help="Port (0: any free port).")
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="GameBox's data folder: games dropped in DATA_DIR/games join the catalogue.")
@click.option("--memory-mb", default=64, show_default=True, help="Memory limit of each game.")
@click.option("--timeout-ms", default=1000, show_default=True, help="Time limit of each game call.")
@click.option("--database-url", default=None, envvar="GAMEBOX_DATABASE_URL",
              help="Accounts and uploaded games in this database (any SQLAlchemy URL, e.g. "
                   "postgresql+psycopg://...). Default with --data-dir: SQLite in DATA_DIR.")
@click.option("--session-secret", default=None, envvar="GAMEBOX_SESSION_SECRET",
              help="Key that signs session cookies (the same on every server of a deployment). "
                   "Default: kept in DATA_DIR/session.key.")
@click.option("--max-upload-mb", default=20, show_default=True, type=click.IntRange(1, 1024),
              help="Size cap of an uploaded game.")
@click.option("--ray", "ray_address", default=None, metavar="ADDRESS",
              help="Run arenas as Ray actors of the cluster at ADDRESS (e.g. 10.0.0.5:6379), "
                   "shared by every server started with the same --ray and --database-url.")
@click.option("--https-only", is_flag=True, envvar="GAMEBOX_HTTPS_ONLY",
              help="The site is reached over HTTPS (directly or through a TLS proxy): Secure "
                   "session cookies and Strict-Transport-Security on every response.")
@click.option("--forwarded-allow-ips", default="127.0.0.1", show_default=True,
              envvar="FORWARDED_ALLOW_IPS",
              help="Addresses of the reverse proxies whose X-Forwarded-For/-Proto are believed "
                   "(comma-separated, '*': any). Sign-in limits key on the client's address: "
                   "behind a proxy not listed here every visitor has the proxy's.")
@click.option("--limit-concurrency", default=1000, show_default=True, type=click.IntRange(1),
              help="At most this many open connections; past it new requests get 503.")
@click.option("--header-timeout", default=10.0, show_default=True, type=click.FloatRange(0.1, 600),
              help="Seconds a connection has to send a request's headers before it is closed.")
def serve(host: str, port: int, data_dir: Path | None, memory_mb: int, timeout_ms: int,
          database_url: str | None, session_secret: str | None, max_upload_mb: int,
          ray_address: str | None, https_only: bool, forwarded_allow_ips: str,
          limit_concurrency: int, header_timeout: float) -> None:
    """Serve GameBox with the bundled games (and, with --data-dir or --database-url,
    accounts and uploaded games)."""
    _app_modules()
    from ..web.server import ServerLimits

    server = _ServerOptions(ServerLimits(limit_concurrency=limit_concurrency,
                                         header_timeout=header_timeout),
                            https_only=https_only, forwarded_allow_ips=forwarded_allow_ips)
    if ray_address is not None:
        if data_dir is None and database_url is None:
            raise click.UsageError("--ray needs the catalogue every server shares: "
                                   "give --database-url (or --data-dir on one machine)")
        _ray_init(ray_address)  # before any plug-in runs here (docs/concurrency.md, "Ray")
    from ..gamebox.catalogue.base import GameLimits
    from ..gamebox.catalogue.folders import DirectoryCatalogue, bundled_games_dir

    folders: list[Path] = [bundled_games_dir()]
    if data_dir is not None:
        (data_dir / "games").mkdir(parents=True, exist_ok=True)
        folders.insert(0, data_dir / "games")
    try:
        limits = GameLimits(memory_mb=memory_mb, timeout_ms=timeout_ms)
    except Error as exc:
        raise click.BadParameter(str(exc)) from None
    catalogue = DirectoryCatalogue(*folders, limits=limits)
    if data_dir is None and database_url is None:
        _run(_serve(catalogue, host, port, None, options=server))
        return
    from ..gamebox.uploads import UploadPolicy

    policy = UploadPolicy(max_bytes=max_upload_mb * 1024 * 1024, limits=limits)
    library = _library(data_dir, database_url, bundled=catalogue, policy=policy)
    open_catalogue = None
    if ray_address is not None:
        url = library.db.url  # type: ignore[attr-defined]
        open_catalogue = functools.partial(_open_library, url, folders, policy)
    _run(_serve(library, host, port, None, session_secret or _session_secret(data_dir),
                open_catalogue, options=server))


@dataclasses.dataclass(frozen=True)
class _ServerOptions:
    """How `serve` runs uvicorn: its connection limits, HTTPS, the proxies it trusts."""

    limits: Any = None  # a wasmplug.web.server.ServerLimits (None: its defaults)
    https_only: bool = False
    forwarded_allow_ips: str = "127.0.0.1"


def _ray_init(address: str) -> None:
    _check_reachable(address)
    try:
        import ray
    except ImportError:
        raise click.ClickException('--ray needs Ray: pip install "wasmplug[ray]"') from None
    try:
        ray.init(address=address, log_to_driver=False)
    except Exception as exc:  # nothing listening, another Ray version...
        raise click.ClickException(f"cannot join the Ray cluster at {address}: "
                                   f"{str(exc).splitlines()[0] if str(exc) else exc!r}") from None


def _check_reachable(address: str) -> None:
    """Fail at once, not after Ray's minutes of retries, when nothing listens at host:port."""
    where = address.split("://", 1)[-1]
    host, sep, port = where.rpartition(":")
    if not sep or not port.isdigit():
        return  # "auto", "local": Ray finds the cluster itself
    try:
        socket.create_connection((host.strip("[]") or "127.0.0.1", int(port)), timeout=5).close()
    except OSError as exc:
        raise click.ClickException(
            f"cannot reach the Ray cluster at {address} ({exc.strerror or exc}): start one with "
            "`ray start --head` on that machine, or check the address and port") from None


def _open_library(url: str, folders: list[Path], policy: object) -> object:
    """The shared catalogue, opened again where an arena's Ray actor runs."""
    from ..gamebox.catalogue.database import DatabaseCatalogue
    from ..gamebox.catalogue.folders import DirectoryCatalogue
    from ..gamebox.database import GameBoxDatabase

    bundled = DirectoryCatalogue(*folders, limits=policy.limits)  # type: ignore[attr-defined]
    return DatabaseCatalogue(GameBoxDatabase(url), bundled=bundled, policy=policy)  # type: ignore[arg-type]


@command.command("play")
@click.argument("game", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=0, show_default=True, type=int, help="Port (0: any free port).")
@click.option("--watch/--no-watch", default=True, show_default=True,
              help="Reload the game when the file changes.")
def play(game: Path, host: str, port: int, watch: bool) -> None:
    """Play GAME.wasm or GAME.js in a local GameBox; it reloads when the file changes.

    A .js game (JS PDK style) is built with wasmplug's JavaScript runtime each
    time it changes; a syntax error is logged and the last good version keeps
    running.
    """
    _app_modules()
    from ..gamebox.catalogue.folders import GAME_SUFFIXES, DirectoryCatalogue

    if game.suffix not in GAME_SUFFIXES:
        raise click.BadParameter(f"{game} is neither a .wasm nor a .js file: give a game plug-in "
                                 "or a JavaScript game", param_hint="GAME")
    _run(_serve(DirectoryCatalogue(game), host, port, game if watch else None))


def _run(main: Coroutine[Any, Any, None]) -> None:
    """Run the server on uvloop when it is installed (`wasmplug[gamebox]` brings it; it
    makes each WebSocket message cheaper), else on asyncio's own loop."""
    try:
        import uvloop
    except ImportError:
        loop_factory = None
    else:
        loop_factory = uvloop.new_event_loop
    with asyncio.Runner(loop_factory=loop_factory) as runner:
        runner.run(main)


async def _serve(catalogue: object, host: str, port: int, watch: Path | None,
                 session_secret: str | None = None, open_catalogue: object = None,
                 options: _ServerOptions = _ServerOptions()) -> None:
    import uvicorn

    from ..gamebox.app import create_app
    from ..gamebox.arenas.state import Arenas
    from ..web.server import uvicorn_config

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    # While writing a game, the arena waits for its author as long as the server runs.
    arenas = Arenas(teardown_after=float("inf")) if watch is not None else None
    backend = None
    if open_catalogue is not None:
        from ..gamebox.arenas.ray import RayArenas

        backend = RayArenas(open_catalogue)  # type: ignore[arg-type]
    app = create_app(catalogue, arenas=arenas, session_secret=session_secret,  # type: ignore[arg-type]
                     backend=backend, https_only=options.https_only)
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(1024)  # connections wait in the backlog until the server is up
    bound = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn_config(app, options.limits, log_level="warning",
                                          ws="websockets-sansio", ws_per_message_deflate=False,
                                          proxy_headers=True,
                                          forwarded_allow_ips=options.forwarded_allow_ips))
    url = f"http://{host}:{bound}/"
    if watch is not None:
        box = app.state.engine
        arena = box.arenas.create()
        click.echo(f"GameBox is playing {watch.name} in arena {arena.code}: "
                   f"{url}?arena={arena.code}")
        watcher = asyncio.create_task(_watch(box, watch))
    else:
        click.echo(f"GameBox is serving on {url}")
        watcher = None
    try:
        await server.serve(sockets=[sock])
    finally:
        if watcher is not None:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher


async def _watch(box: object, path: Path) -> None:
    from watchfiles import awatch

    log = logging.getLogger("wasmplug.gamebox")
    target = path.resolve()
    async for _changes in awatch(target.parent, watch_filter=lambda _c, p: Path(p) == target):
        log.info("%s changed: reloading", path.name)
        await box.reload_game(path.stem)  # type: ignore[attr-defined]


def _library(data_dir: Path | None, database_url: str | None, **kwargs: object) -> object:
    """The database of accounts and uploaded games, migrated to the newest schema."""
    from ..gamebox.catalogue.database import DatabaseCatalogue
    from ..gamebox.database import GameBoxDatabase

    if database_url is None and data_dir is None:
        raise click.UsageError("give --data-dir (SQLite in that folder) or --database-url")
    try:
        db = GameBoxDatabase(database_url) if database_url else GameBoxDatabase.in_dir(data_dir)  # type: ignore[arg-type]
        db.upgrade()
    except Exception as exc:  # a bad URL, a server that does not answer, a missing driver
        raise click.ClickException(f"cannot open the database: {str(exc).splitlines()[0]}") from None
    return DatabaseCatalogue(db, **kwargs)  # type: ignore[arg-type]


def _session_secret(data_dir: Path | None) -> str | None:
    """The session key kept in DATA_DIR/session.key (made on first use), or None (random)."""
    import secrets

    if data_dir is None:
        return None
    key = data_dir / "session.key"
    if not key.exists():
        key.parent.mkdir(parents=True, exist_ok=True)
        key.write_text(secrets.token_urlsafe(48))
        key.chmod(0o600)
    return key.read_text().strip()


@command.command("add-user")
@click.argument("username")
@click.option("--admin", is_flag=True, help="An admin: can ban users and delete any game.")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True,
              envvar="GAMEBOX_PASSWORD", help="The password (asked for when not given).")
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="GameBox's data folder (SQLite database inside).")
@click.option("--database-url", default=None, envvar="GAMEBOX_DATABASE_URL",
              help="The database, as for `serve`.")
def add_user(username: str, admin: bool, password: str, data_dir: Path | None,
             database_url: str | None) -> None:
    """Create the account USERNAME (with --admin: an admin)."""
    _app_modules()
    library = _library(data_dir, database_url)
    try:
        account = library.add_user(username, password, admin=admin)  # type: ignore[attr-defined]
    except Error as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"created {'admin' if account.is_admin else 'user'} {account.username}")


@command.command("upload")
@click.argument("game", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@server_options(server_env="GAMEBOX_SERVER", token_env="GAMEBOX_TOKEN", server_help="The GameBox's URL.",
                token_help="Your API token (from your 'My games' page).")
@click.option("--name", default=None, help="The game's id (default: GAME's file name); "
                                           "uploading to one of your games adds a version.")
@click.option("--title", default="", help="The game's title.")
@click.option("--description", default="", help="Its description (Markdown).")
@click.option("--artwork", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=None, help="A PNG or JPEG (at most 2 MB).")
def upload(game: Path, server: str, token: str, name: str | None, title: str, description: str,
           artwork: Path | None) -> None:
    """Upload GAME.wasm to a GameBox server (a new game, or a new version of yours)."""
    files = {"wasm": (game.name, game.read_bytes(), "application/wasm")}
    if artwork is not None:
        files["artwork"] = (artwork.name, artwork.read_bytes(), "application/octet-stream")
    data = {"title": title, "description": description, "game": name or game.stem}
    status, body = api_request("POST", server, "/api/games", token, data=data, files=files, timeout=120)
    if status != 201:
        reasons = body.get("reasons") or []
        message = body.get("error", f"HTTP {status}")
        if reasons:
            message = "the upload was rejected:\n" + "\n".join(f"  - {r}" for r in reasons)
        raise click.ClickException(message)
    click.echo(f"uploaded {body['game']} version {body['version']}: {body['url']}")
