"""A route is unique in the database, not only in one front end: two `serve` processes sharing one
database cannot both take it (one succeeds, the other gets a clear 409)."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx
import pytest

from wasmplug.serve import ServerSettings

from .conftest import Server, live_server

HANDLER = "function handle() {{ Host.outputString(JSON.stringify({{body: '{tag}'}})); }}\n" \
          "module.exports = {{ handle }};"


def handler(tag: str) -> bytes:
    return HANDLER.format(tag=tag).encode()


@contextmanager
def two_front_ends(settings: ServerSettings) -> Iterator[tuple[Server, Server]]:
    # sync_every=0: neither learns of the other's deploys, so only the database can say no.
    with ExitStack() as stack:
        a = stack.enter_context(live_server(settings))
        b = stack.enter_context(live_server(settings))
        yield a, b


@pytest.fixture(params=["sqlite", "postgresql"])
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> ServerSettings:
    if request.param == "sqlite":
        return ServerSettings(data_dir=tmp_path, sync_every=0)
    url: str = request.getfixturevalue("postgres_url")
    return ServerSettings(database_url=url, sync_every=0)


def test_a_route_taken_through_one_front_end_is_refused_by_the_other(settings: ServerSettings) -> None:
    with two_front_ends(settings) as (a, b):
        a.deployed("first", handler("one"), public=True, route="/shared")
        taken = b.deploy("second", handler("two"), token=a.token, public=True, route="/shared")
        assert taken.status_code == 409, taken.text
        assert taken.json()["kind"] == "route_taken"
        assert "the route /shared is taken by the function 'first'" in taken.json()["error"]
        # Nothing of the refused deploy is left: b neither serves nor lists it; a still serves /shared.
        assert b.call("second", "handle").status_code == 404
        assert a.client.get(f"{a.url}/shared").text == "one"
        # Another route is fine; a function moving off a route frees it.
        b.deployed("second", handler("two"), public=True, route="/other")
        a.deployed("first", handler("one"), public=True, route="/elsewhere")
        assert b.deploy("third", handler("three"), public=True, route="/other").status_code == 409
        assert b.deploy("third", handler("three"), public=True, route="/shared").status_code == 201
        # A rollback onto a route taken meanwhile is refused the same way, and changes nothing.
        back = a.client.post(f"{a.url}/api/functions/first/rollback", json={"version": 1}, headers=a.auth())
        assert back.status_code == 409 and back.json()["kind"] == "route_taken", back.text
        assert "the route /shared is taken by the function 'third'" in back.json()["error"]
        assert a.client.get(f"{a.url}/elsewhere").text == "one"


def test_the_same_route_deployed_through_two_front_ends_at_once(settings: ServerSettings) -> None:
    with two_front_ends(settings) as (a, b):
        for round_ in range(5):
            route = f"/race{round_}"

            def deploy(pair: tuple[Server, str], route: str = route) -> httpx.Response:
                server, name = pair
                return server.deploy(name, handler(name), token=a.token, public=True, route=route)

            with ThreadPoolExecutor(2) as pool:
                replies = list(pool.map(deploy, [(a, f"a{round_}"), (b, f"b{round_}")]))
            statuses = sorted(r.status_code for r in replies)
            assert statuses == [201, 409], [r.text for r in replies]
            refused = next(r for r in replies if r.status_code == 409).json()
            assert refused["kind"] == "route_taken" and route in refused["error"]


def test_the_migration_fills_in_active_routes_and_the_older_function_keeps_a_shared_one(
        tmp_path: Path) -> None:
    from alembic import command
    from alembic.config import Config
    from sqlalchemy import text

    from wasmplug.serve.database import MIGRATIONS, ServeDatabase
    from wasmplug.web.database import sqlite_url

    db = ServeDatabase(sqlite_url(tmp_path, "serve.db"))
    try:
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        with db.engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "0001")
            connection.execute(text("INSERT INTO users VALUES (1, 'u', 'x', 0, 0, '2026-01-01', 0)"))
            connection.execute(text("INSERT INTO serve_blobs VALUES ('s', 1, x'00')"))
            functions = ((1, "old", "/r"), (2, "new", "/r"), (3, "plain", None), (4, "own", "/o"))
            for fid, name, route in functions:
                connection.execute(text(f"INSERT INTO serve_functions VALUES ({fid}, '{name}', 1, 2, "
                                        "'2026-01-01')"))
                for number, settings in ((1, '{"route": "/gone"}'),
                                         (2, "{}" if route is None else f'{{"route": "{route}"}}')):
                    connection.execute(text("INSERT INTO serve_versions (function_id, number, kind, "
                                            "module_sha256, exports, settings, created_at) VALUES "
                                            f"({fid}, {number}, 'wasm', 's', '[]', :s, '2026-01-01')"),
                                       {"s": settings})
        db.upgrade()
        with db.engine.connect() as connection:
            rows = connection.execute(text("SELECT name, route FROM serve_functions"))
            routes: dict[str, str | None] = {name: route for name, route in rows}
        assert routes == {"old": "/r", "new": None, "plain": None, "own": "/o"}
    finally:
        db.close()
