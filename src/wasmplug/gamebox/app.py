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

from wasmplug.web.body_limits import BodyLimits
from wasmplug.web.client_limits import ClientLimits
from wasmplug.web.passwords import HashingPool
from wasmplug.web.rate_limits import RateLimiter
from wasmplug.web.security import SecuredStarlette
from wasmplug.web.sessions import add_sessions
from wasmplug.web.sign_in import SignInGuard

from .arenas.base import ArenaBackend
from .arenas.engine import ArenaEngine, default_templates
from .arenas.local import LocalArenas
from .arenas.state import Arenas
from .catalogue.base import Catalogue
from .catalogue.database import DatabaseCatalogue
from .catalogue.folders import DirectoryCatalogue, bundled_games_dir
from .views import accounts, admin, api, arena, catalogue, my_games, pages
from .views.receive_upload import ARTWORK_PART

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
    Route("/my/password", accounts.change_password, methods=["POST"]),
    Route("/my/sessions/end", accounts.sign_out_everywhere, methods=["POST"]),
    Route("/my", my_games.my_page),
    Route("/my/upload", my_games.upload, methods=["POST"]),
    Route("/my/tokens", my_games.tokens, methods=["POST"]),
    Route("/my/games/{slug}/edit", my_games.edit, methods=["POST"]),
    Route("/my/games/{slug}/delete", my_games.delete, methods=["POST"]),
    Route("/admin", admin.admin, methods=["GET", "POST"]),
    Route("/api/games", api.upload_game_api, methods=["POST"]),
]


UPLOAD_ROUTES = ("/my/upload", "/api/games")
FORM_BYTES = 128 * 1024  # the body of any other request (forms take no file)
# Forms of a few short fields (a name, a password, a code): their bodies are refused past
# SMALL_FORM_BYTES, at the first network chunk past it (a password is at most 1,024 characters).
SMALL_FORMS = ("/login", "/signup", "/logout", "/my/password", "/my/sessions/end", "/my/tokens",
               "/arenas", "/join")
SMALL_FORM_BYTES = 8 * 1024
# What a person does now and then and a script can flood: each costs a password check, a
# search query or a game instance (see `SiteSettings.costly_rate`).
COSTLY_ROUTES = ("/login", "/signup", "/my/password", "/games", "/arenas", "/join")


@dataclass(frozen=True)
class SiteSettings:
    """Limits of the site: sign-ins (see `wasmplug.web.sign_in.SignInGuard`: `login_attempts`
    per username and address, then delays per address past `login_free_failures` failures),
    sign-ups per address, uploads per user, arena codes that do not exist per client address
    (guessing), the password hashing pool, and how many HTTP requests of one address may be in
    flight at once and a second."""

    login_attempts: int = 5
    login_window: float = 60.0
    login_free_failures: int = 20
    login_base_delay: float = 0.25
    login_max_delay: float = 5.0
    login_max_waiting: int = 8  # sign-ins of one address waiting for their turn (delayed); past it, 429
    signups: int = 10
    signup_window: float = 3600.0
    uploads: int = 10
    upload_window: float = 60.0
    hashing_workers: int = 2
    hashing_queue: int = 16
    requests_per_client: int = 16  # HTTP requests of one address in flight at once
    client_rate: float = 20.0  # HTTP requests a second of one address, after a burst of:
    client_burst: int = 100
    refusal_delay: float = 1.0  # a refused (429) request is answered after this long (a flood slows)
    refusal_jitter: float = 0.5  # ...give or take this much of it, at random (refusals fall out of step)
    refusals_held: int = 256  # per address; past it a refusal is answered at once, its connection closed
    costly_in_flight: int = 2  # requests of COSTLY_ROUTES of one address at once
    costly_rate: float = 5.0  # requests a second of COSTLY_ROUTES of one address, after a burst of:
    costly_burst: int = 10
    arena_misses: int = 10  # codes of arenas that do not exist, per client address
    arena_miss_window: float = 60.0


def create_app(catalogue: Catalogue | None = None, *, arenas: Arenas | None = None,
               sweep_every: float = 1.0, session_secret: str | None = None,
               site_settings: SiteSettings | None = None,
               backend: ArenaBackend | None = None, https_only: bool = False) -> Starlette:
    """The GameBox ASGI app for `catalogue` (default: the bundled games).

    With a `DatabaseCatalogue` (uploaded games in a database) as the
    catalogue, the app also serves accounts, uploads and the catalogue pages,
    with sessions signed by `session_secret` (default: a random one per
    process, so give every server of a deployment the same secret).

    Arenas live in this process unless another `backend` is given (e.g.
    `arenas.ray.RayArenas`: arenas shared by every server of a Ray cluster).

    `https_only` (a site served over HTTPS, directly or by a proxy): the session
    cookie is `Secure` and every response carries Strict-Transport-Security.
    Request bodies are counted as they arrive: an upload may be as large as the
    upload policy allows, a small form (`SMALL_FORMS`) `SMALL_FORM_BYTES`, anything else
    `FORM_BYTES`.
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
            hashing.close()

    routes = [*SITE_ROUTES, *ARENA_ROUTES] if library is not None else ARENA_ROUTES
    settings = site_settings or SiteSettings()
    hashing = HashingPool(settings.hashing_workers, settings.hashing_queue)
    app = SecuredStarlette(routes=routes, lifespan=lifespan, hsts=https_only,
                           exception_handlers={404: pages.not_found})
    upload_cap = (library.policy.max_bytes if library is not None else 0) + ARTWORK_PART
    app.add_middleware(BodyLimits, default=FORM_BYTES, routes=dict.fromkeys(UPLOAD_ROUTES, upload_cap),
                       small=dict.fromkeys(SMALL_FORMS, SMALL_FORM_BYTES))
    # Sessions with or without accounts: the arena forms carry a CSRF token in plain mode too.
    add_sessions(app, session_secret, cookie="gamebox_session", https_only=https_only)
    app.add_middleware(ClientLimits, max_in_flight=settings.requests_per_client,
                       rate=settings.client_rate, burst=settings.client_burst,
                       refusal_delay=settings.refusal_delay, refusal_jitter=settings.refusal_jitter,
                       max_held=settings.refusals_held,
                       costly=COSTLY_ROUTES, costly_in_flight=settings.costly_in_flight,
                       costly_rate=settings.costly_rate, costly_burst=settings.costly_burst)
    _keep_state(app, engine=engine, backend=arena_backend, templates=templates, library=library,
                hashing=hashing, settings=settings)
    return app


def _keep_state(app: Starlette, *, settings: SiteSettings, **state: Any) -> None:
    """What the views read from `app.state` (see views/pages.py)."""
    for name, value in state.items():
        setattr(app.state, name, value)
    app.state.sign_in_guard = SignInGuard(
        settings.login_attempts, settings.login_window, free_failures=settings.login_free_failures,
        base_delay=settings.login_base_delay, max_delay=settings.login_max_delay,
        max_waiting=settings.login_max_waiting)
    app.state.signups_limit = RateLimiter(settings.signups, settings.signup_window)
    app.state.uploads_limit = RateLimiter(settings.uploads, settings.upload_window)
    app.state.arena_misses_limit = RateLimiter(settings.arena_misses, settings.arena_miss_window)
