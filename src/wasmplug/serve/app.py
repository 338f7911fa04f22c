"""The serve web application (Starlette): the route table, the middleware, the lifespan.

    app = create_app(ServerSettings(data_dir=Path("serve-data")))

Everything the views need is on `app.state`: `settings`, `store` (the
database), `runtimes` (the active version of each function), `metrics`, and the
rate limiters `deploy_limit` and `invoke_limit` (per API token), and `playground` (its runs).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from wasmplug.web.rate_limits import RateLimiter

from .database import FunctionStore, ServeDatabase
from .metrics import Metrics
from .requests import FUNCTION_HEADERS, OWN_HEADERS
from .runtime import Runtimes
from .settings import ServerSettings
from .views import api, invoke, ops, pages
from .views.playground import PlaygroundService, playground_routes

log = logging.getLogger("wasmplug.serve")
ALL_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
# The server's own paths; every other path is a function's (its responses are sandboxed).
OWN_PREFIXES = ("/api/", "/metrics", "/healthz", "/readyz", "/playground", "/static/")

ROUTES = [
    Route("/f/{name}/{export}", invoke.call_export, methods=["POST"]),  # first: the hot path
    Route("/", pages.index),
    Route("/api/functions", api.listing_endpoint),
    Route("/api/functions/{name}", api.deploy_endpoint, methods=["PUT"]),
    Route("/api/functions/{name}", api.show_endpoint, methods=["GET"]),
    Route("/api/functions/{name}", api.remove_endpoint, methods=["DELETE"]),
    Route("/api/functions/{name}/versions", api.versions_endpoint),
    Route("/api/functions/{name}/rollback", api.rollback_endpoint, methods=["POST"]),
    Route("/metrics", ops.metrics),
    Route("/healthz", ops.healthz),
    Route("/readyz", ops.readyz),
]
# Last: any other path may be under a function's route.
CATCH_ALL = Route("/{path:path}", invoke.handle_route, methods=ALL_METHODS)


class ServeHeaders:
    """The security headers (`wasmplug.web.security`) on every response, as raw ASGI: the ones a
    response carries under the same names are replaced. Responses of functions get `sandbox` in
    their CSP: a page a function serves runs as an opaque origin, so it cannot reach this server's
    own pages or what the browser keeps for them."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.names = frozenset(name for name, _ in OWN_HEADERS)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        added = OWN_HEADERS if path == "/" or path.startswith(OWN_PREFIXES) else FUNCTION_HEADERS
        names = self.names

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = message.get("headers", [])
                message["headers"] = [*(h for h in headers if h[0].lower() not in names), *added]
            await send(message)

        await self.app(scope, receive, send_with_headers)


class ServeApp(Starlette):
    """Starlette, with the hot path, POST /f/NAME/EXPORT, answered before its middleware and router
    (`invoke.call_export_asgi` adds the security headers itself and answers a bug of ours with a
    JSON 500, as the middleware would): about a third of a request's time was those layers."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and invoke.path_call(scope):
            scope["app"] = self
            await invoke.call_export_asgi(scope, receive, send)
        else:
            await super().__call__(scope, receive, send)


def _connect_ray(address: str) -> None:
    import ray

    if not ray.is_initialized():
        ray.init(address=None if address == "local" else address, log_to_driver=False)


async def _internal_error(request: Request, exc: Exception) -> Response:
    """A bug of ours: logged with its traceback; the caller gets JSON, the server carries on."""
    log.error("internal error on %s %s", request.method, request.url.path[:200], exc_info=exc)
    return JSONResponse({"error": "internal server error (logged)", "kind": "internal"}, 500)


def create_app(settings: ServerSettings | None = None) -> ServeApp:
    """The serve ASGI app: its database is migrated and its functions loaded at startup."""
    settings = settings or ServerSettings()
    db = ServeDatabase(settings.url())
    store = FunctionStore(db, max_functions=settings.max_functions, max_versions=settings.max_versions)
    runtimes = Runtimes(store, settings)
    playground = PlaygroundService(settings.playground)

    @contextlib.asynccontextmanager
    async def lifespan(app: ServeApp) -> AsyncIterator[None]:
        loop = asyncio.get_running_loop()
        workers = ThreadPoolExecutor(settings.worker_threads, thread_name_prefix="wasmplug-serve")
        loop.set_default_executor(workers)  # Wasm calls run here; each function holds at most its cap
        if settings.ray_address is not None:
            await asyncio.to_thread(_connect_ray, settings.ray_address)
        await asyncio.to_thread(db.upgrade)
        loading = asyncio.create_task(runtimes.load_all())

        async def syncing() -> None:
            await loading
            while settings.sync_every > 0:
                await asyncio.sleep(settings.sync_every)
                try:
                    await runtimes.sync()
                except Exception:  # a database hiccup: log it, try again next time
                    log.exception("syncing with the database failed")

        sync = asyncio.create_task(syncing())
        probe = asyncio.create_task(app.state.metrics.probe.run())
        app.state.metrics.gc_timer.install()
        try:
            yield
        finally:
            app.state.metrics.gc_timer.remove()
            loading.cancel()
            sync.cancel()
            probe.cancel()
            await runtimes.close()
            playground.close()
            db.close()

    routes = [*ROUTES, *playground_routes(), CATCH_ALL]
    app = ServeApp(routes=routes, lifespan=lifespan, exception_handlers={Exception: _internal_error})
    app.add_middleware(ServeHeaders)
    app.state.settings = settings
    app.state.store = store
    app.state.runtimes = runtimes
    app.state.playground = playground
    app.state.metrics = Metrics(runtimes)
    app.state.deploy_limit = RateLimiter(settings.deploys_per_minute, 60.0)
    app.state.invoke_limit = RateLimiter(settings.invocations_per_minute, 60.0)
    return app
