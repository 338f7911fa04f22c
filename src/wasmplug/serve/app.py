"""The serve web application (Starlette): the route table, the middleware, the lifespan."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from starlette.applications import Starlette

from wasmplug.web.security import SecurityHeaders

from .views.playground import PlaygroundService, PlaygroundSettings, playground_routes


@dataclass(frozen=True)
class Settings:
    """What the server is configured with."""

    playground: PlaygroundSettings = field(default_factory=PlaygroundSettings)


def create_app(settings: Settings | None = None) -> Starlette:
    """The serve ASGI app."""
    settings = settings or Settings()
    # -- the playground (views/playground.py) --
    playground = PlaygroundService(settings.playground)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            playground.close()

    app = Starlette(routes=[*playground_routes()], lifespan=lifespan)
    app.add_middleware(SecurityHeaders)
    app.state.playground = playground
    return app
