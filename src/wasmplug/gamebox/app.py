"""The GameBox web application (Starlette): the route table, the middleware, the lifespan.

    from wasmplug.gamebox import create_app
    app = create_app()          # the bundled games; serve it with uvicorn

The endpoints are in `views/` (one module per family of pages); everything
they need is on `app.state` (see `views/pages.py`). With a
`DatabaseCatalogue` as the catalogue, the site's pages are mounted too
(accounts, uploads, the catalogue, admin, the API), with signed session
cookies and a CSRF token on every form. The arena forms carry a CSRF token in
both modes (the session cookie holds it).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.routing import BaseRoute, Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles

from wasmplug.web.rate_limits import RateLimiter
from wasmplug.web.security import SecurityHeaders
from wasmplug.web.sessions import add_sessions

from .arenas.base import ArenaBackend
from .arenas.engine import ArenaEngine, default_templates
from .arenas.local import LocalArenas
from .arenas.state import Arenas
from .catalogue.base import Catalogue
from .catalogue.database import DatabaseCatalogue
from .catalogue.folders import DirectoryCatalogue, bundled_games_dir
from .views import accounts, admin, api, arena, catalogue, my_games

STATIC = Path(__file__).parent / "static"

ARENA_ROUTES: list[BaseRoute] = [
    Route("/", arena.home),
    Route("/arenas", arena.create_arena, methods=["POST"]),
    Route("/join", arena.join_arena, methods=["POST"]),
    Route("/arena/{code}", arena.arena_page),
    WebSocketRoute("/arena/{code}/ws", arena.live),
    Mount("/static", StaticFiles(directory=STATIC), name="static"),
]

# Mounted with a DatabaseCatalogue: accounts, uploads, the catalogue pages, admin, the API.
SITE_ROUTES: list[BaseRoute] = [
    Route("/games", catalogue.catalogue),
    Route("/games/{slug}", catalogue.game_page, name="game_page"),
    Route("/games/{slug}/art.png", catalogue.artwork),
    Route("/games/{slug}/thumb.png", catalogue.thumbnail),
    Route("/signup", accounts.signup, methods=["GET", "POST"]),
    Route("/login", accounts.login, methods=["GET", "POST"]),
    Route("/logout", accounts.logout, methods=["POST"]),
    Route("/my", my_games.my_page),
    Route("/my/upload", my_games.upload, methods=["POST"]),
    Route("/my/tokens", my_games.tokens, methods=["POST"]),
    Route("/my/games/{slug}/edit", my_games.edit, methods=["POST"]),
    Route("/my/games/{slug}/delete", my_games.delete, methods=["POST"]),
    Route("/admin", admin.admin, methods=["GET", "POST"]),
    Route("/api/games", api.upload_game_api, methods=["POST"]),
]


@dataclass(frozen=True)
class SiteSettings:
    """Rate limits: failed logins per username (and per client address), uploads per user,
    arena codes that do not exist per client address (guessing)."""

    login_attempts: int = 5
    login_window: float = 60.0
    uploads: int = 10
    upload_window: float = 60.0
    arena_misses: int = 10  # codes of arenas that do not exist, per client address
    arena_miss_window: float = 60.0


def create_app(catalogue: Catalogue | None = None, *, arenas: Arenas | None = None,
               sweep_every: float = 1.0, session_secret: str | None = None,
               site_settings: SiteSettings | None = None,
               backend: ArenaBackend | None = None) -> Starlette:
    """The GameBox ASGI app for `catalogue` (default: the bundled games).

    With a `DatabaseCatalogue` (uploaded games in a database) as the
    catalogue, the app also serves accounts, uploads and the catalogue pages,
    with sessions signed by `session_secret` (default: a random one per
    process, so give every server of a deployment the same secret).

    Arenas live in this process unless another `backend` is given (e.g.
    `arenas.ray.RayArenas`: arenas shared by every server of a Ray cluster).
    """
    catalogue = catalogue or DirectoryCatalogue(bundled_games_dir())
    templates = default_templates()
    engine = ArenaEngine(catalogue, templates, arenas=arenas)
    arena_backend: ArenaBackend = backend if backend is not None else LocalArenas(engine)
    library = catalogue if isinstance(catalogue, DatabaseCatalogue) else None

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async def sweeper() -> None:
            while True:
                await asyncio.sleep(sweep_every)
                arena_backend.sweep()

        task = asyncio.create_task(sweeper())
        try:
            yield
        finally:
            task.cancel()
            await arena_backend.close()

    routes = [*SITE_ROUTES, *ARENA_ROUTES] if library is not None else ARENA_ROUTES
    app = Starlette(routes=routes, lifespan=lifespan)
    add_sessions(app, session_secret, cookie="gamebox_session")  # (the arena forms' CSRF token too)
    app.add_middleware(SecurityHeaders)
    _keep_state(app, engine=engine, backend=arena_backend, templates=templates, library=library,
                settings=site_settings or SiteSettings())
    return app


def _keep_state(app: Starlette, *, settings: SiteSettings, **state: Any) -> None:
    """What the views read from `app.state` (see views/pages.py)."""
    for name, value in state.items():
        setattr(app.state, name, value)
    app.state.logins_limit = RateLimiter(settings.login_attempts, settings.login_window)
    app.state.login_addresses_limit = RateLimiter(settings.login_attempts * 4, settings.login_window)
    app.state.uploads_limit = RateLimiter(settings.uploads, settings.upload_window)
    app.state.arena_misses_limit = RateLimiter(settings.arena_misses, settings.arena_miss_window)
