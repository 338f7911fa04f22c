"""`wasmplug gamebox`: serve GameBox, or play one game while writing it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from pathlib import Path

import click

from ..errors import Error


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
def serve(host: str, port: int, data_dir: Path | None, memory_mb: int, timeout_ms: int) -> None:
    """Serve GameBox with the bundled games."""
    _app_modules()
    from ..gamebox.catalogue import DirectoryCatalogue, GameLimits, bundled_games_dir

    folders: list[Path] = [bundled_games_dir()]
    if data_dir is not None:
        (data_dir / "games").mkdir(parents=True, exist_ok=True)
        folders.insert(0, data_dir / "games")
    try:
        limits = GameLimits(memory_mb=memory_mb, timeout_ms=timeout_ms)
    except Error as exc:
        raise click.BadParameter(str(exc)) from None
    catalogue = DirectoryCatalogue(*folders, limits=limits)
    asyncio.run(_serve(catalogue, host, port, None))


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
    from ..gamebox.catalogue import GAME_SUFFIXES, DirectoryCatalogue

    if game.suffix not in GAME_SUFFIXES:
        raise click.BadParameter(f"{game} is neither a .wasm nor a .js file: give a game plug-in "
                                 "or a JavaScript game", param_hint="GAME")
    asyncio.run(_serve(DirectoryCatalogue(game), host, port, game if watch else None))


async def _serve(catalogue: object, host: str, port: int, watch: Path | None) -> None:
    import uvicorn

    from ..gamebox.app import create_app
    from ..gamebox.arenas import Arenas

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    # While writing a game, the arena waits for its author as long as the server runs.
    arenas = Arenas(teardown_after=float("inf")) if watch is not None else None
    app = create_app(catalogue, arenas=arenas)  # type: ignore[arg-type]
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(1024)  # connections wait in the backlog until the server is up
    bound = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", ws="websockets-sansio",
                                           ws_per_message_deflate=False))
    url = f"http://{host}:{bound}/"
    if watch is not None:
        box = app.state.gamebox
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
