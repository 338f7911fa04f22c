"""The deploy API (Authorization: Bearer TOKEN on every request; JSON in and out).

    PUT    /api/functions/{name}            multipart: module (file), settings (JSON) -> 201/200
    GET    /api/functions                   the caller's functions (an admin's: all)
    GET    /api/functions/{name}            the active version and its settings (secrets by key only)
    GET    /api/functions/{name}/versions
    POST   /api/functions/{name}/rollback   {"version": n}
    DELETE /api/functions/{name}

Errors are {"error": message, "kind": ...} with a 4xx status.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import json
from collections.abc import Awaitable, Callable

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from wasmplug.web.accounts import Account

from ..database import FunctionStore, Version
from ..errors import ServeError
from ..functions import check_hosts, check_name, parse_settings, prepare_module
from ..requests import account, error_response, read_body, replay
from ..runtime import Runtimes

Handler = Callable[[Request, Account], Awaitable[Response]]


def _endpoint(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        try:
            who = await account(request)
            assert who is not None
            return await handler(request, who)
        except ServeError as exc:
            return error_response(exc)

    endpoint.__name__ = handler.__name__
    endpoint.__doc__ = handler.__doc__
    return endpoint


def _store(request: Request) -> FunctionStore:
    store: FunctionStore = request.app.state.store
    return store


def _runtimes(request: Request) -> Runtimes:
    runtimes: Runtimes = request.app.state.runtimes
    return runtimes


def _deployed(version: Version, status: int) -> JSONResponse:
    return JSONResponse({"name": version.name, "version": version.number, "sha256": version.sha256,
                         "exports": version.module.exports, "url": f"/f/{version.name}/",
                         "route": version.settings.route}, status)


async def _form_parts(request: Request) -> tuple[bytes, str | None]:
    server = request.app.state.settings
    body = await read_body(request, server.max_module_bytes + 3 * 1024 * 1024)
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise ServeError("send multipart/form-data with a 'module' file part and a 'settings' part",
                         status=415, kind="bad_request")
    try:
        form = await replay(request, body).form(max_files=1, max_fields=2,
                                                 max_part_size=server.max_module_bytes)
    except Exception as exc:  # python-multipart's and Starlette's parse errors
        raise ServeError(f"the multipart body cannot be read: {str(exc)[:200]}", kind="bad_request") from None
    module = form.get("module")
    if module is None:
        raise ServeError("the 'module' part is missing (the .wasm, .js or manifest to deploy)")
    data = await module.read() if isinstance(module, UploadFile) else module.encode()
    if len(data) > server.max_module_bytes:
        raise ServeError(f"the module is over {server.max_module_bytes} bytes", status=413, kind="too_large")
    settings = form.get("settings")
    if isinstance(settings, UploadFile):
        settings = (await settings.read()).decode("utf-8", "replace")
    return data, settings


async def deploy(request: Request, who: Account) -> Response:
    """Validate a module and its settings, try it, store it, and switch new requests to it."""
    name = check_name(request.path_params["name"])
    limiter = request.app.state.deploy_limit
    key = f"u{who.id}"
    if wait := limiter.blocked(key):
        raise ServeError(f"too many deploys: try again in {wait:.0f} s", status=429, kind="rate_limited",
                         retry_after=wait)
    limiter.hit(key)
    store = _store(request)
    await asyncio.to_thread(store.check_may_deploy, who, name)  # before any work on the upload
    data, settings_text = await _form_parts(request)
    runtimes = _runtimes(request)
    previous = runtimes.active.get(name)
    settings = parse_settings(settings_text, previous.version.settings if previous else None)
    if not request.app.state.settings.allow_private_hosts:
        check_hosts(settings.allowed_hosts, request.app.state.settings.allowed_networks)
    module = await asyncio.to_thread(prepare_module, data)
    sha256 = hashlib.sha256(module.data).hexdigest()
    existed = name in runtimes.active or name in await asyncio.to_thread(store.names)
    candidate = Version(name, 0, who.id, sha256, module, settings, "")
    runtime = await runtimes.prepare(candidate)
    try:
        version = await asyncio.to_thread(store.save_version, who, name, module, sha256, settings)
    except BaseException:
        runtime.retire()
        raise
    runtime.version = version
    runtimes.install(runtime)
    return _deployed(version, 200 if existed else 201)


async def listing(request: Request, who: Account) -> Response:
    return JSONResponse({"functions": await asyncio.to_thread(_store(request).listing, who)})


async def show(request: Request, who: Account) -> Response:
    name = check_name(request.path_params["name"])
    store = _store(request)
    version = await asyncio.to_thread(store.active, name)
    await asyncio.to_thread(store.version, who, name, version.number)  # the owner check
    return JSONResponse({"name": name, **version.summary(), "url": f"/f/{name}/",
                         "settings": version.settings.shown()})


async def versions(request: Request, who: Account) -> Response:
    name = check_name(request.path_params["name"])
    return JSONResponse({"name": name,
                         "versions": await asyncio.to_thread(_store(request).versions, who, name)})


async def rollback(request: Request, who: Account) -> Response:
    """Make an earlier (or later) version the active one, after loading it again."""
    name = check_name(request.path_params["name"])
    try:
        wanted = json.loads(await read_body(request, 4096))
    except ValueError:
        raise ServeError('send JSON {"version": n}') from None
    number = wanted.get("version") if isinstance(wanted, dict) else None
    if isinstance(number, bool) or not isinstance(number, int) or not 1 <= number < 2**31:
        raise ServeError('send JSON {"version": n} with n a version number (see .../versions)')
    store = _store(request)
    version = await asyncio.to_thread(store.version, who, name, number)
    # A version that took traffic before is not tried again (its sample input may be stale).
    runtime = await _runtimes(request).prepare(
        dataclasses.replace(version, settings=dataclasses.replace(version.settings, sample_input=None)))
    try:
        await asyncio.to_thread(store.set_active, who, name, number)
    except BaseException:
        runtime.retire()
        raise
    runtime.version = version
    _runtimes(request).install(runtime)
    return _deployed(version, 200)


async def remove(request: Request, who: Account) -> Response:
    name = check_name(request.path_params["name"])
    await asyncio.to_thread(_store(request).delete, who, name)
    _runtimes(request).remove(name)
    request.app.state.metrics.forget(name)
    return JSONResponse({"deleted": name})


deploy_endpoint = _endpoint(deploy)
listing_endpoint = _endpoint(listing)
show_endpoint = _endpoint(show)
versions_endpoint = _endpoint(versions)
rollback_endpoint = _endpoint(rollback)
remove_endpoint = _endpoint(remove)
