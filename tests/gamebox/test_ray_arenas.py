"""Arenas across machines: two `wasmplug gamebox serve --ray` processes share arenas.

One local Ray instance (started by `ray.init()` in a process of its own, in a
temporary folder), the catalogue in a shared database (PostgreSQL when
GAMEBOX_TEST_POSTGRES_URL is set, else one SQLite file), two servers on two
loopback ports: a player on each plays tic-tac-toe to the end. Ray only ever
runs in those processes, never in pytest's (docs/concurrency.md, "Ray").
"""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect

from .loopback import with_html
from .ray_servers import ray_address, two_servers  # noqa: F401  (fixtures)

CSRF = re.compile(r'name="csrf" value="([^"]+)"')


async def _enter(client: httpx.AsyncClient, path: str, **form: str) -> tuple[str, str]:
    """Post an arena form like a browser (CSRF token from the home page): (code, token)."""
    home = await client.get("/")
    csrf = CSRF.search(home.text)
    assert csrf is not None
    response = await client.post(path, data={**form, "csrf": csrf.group(1)})
    assert response.status_code == 303, response.text
    code = response.headers["location"].rsplit("/", 1)[-1]
    return code, response.cookies[f"gamebox_{code}"]


async def _until(ws: ClientConnection, kind: str, contains: str) -> dict[str, Any]:
    async with asyncio.timeout(60):
        while True:
            message: dict[str, Any] = with_html(json.loads(await ws.recv()))
            if message["t"] == kind and contains in message.get("html", message.get("text", "")):
                return message


async def _play(ann_url: str, bob_url: str) -> None:
    async with httpx.AsyncClient(base_url=ann_url, timeout=60) as ann, \
            httpx.AsyncClient(base_url=bob_url, timeout=60) as bob:
        code, ann_token = await _enter(ann, "/arenas", name="ann")
        bob_code, bob_token = await _enter(bob, "/join", code=code.lower(), name="bob")
        assert bob_code == code
        page = await bob.get(f"/arena/{code}")  # the cookie from the join
        assert page.status_code == 200 and "ann" in page.text and "bob" in page.text

        def socket(url: str, token: str) -> Any:
            return connect(url.replace("http", "ws", 1) + f"/arena/{code}/ws",
                           additional_headers={"cookie": f"gamebox_{code}={token}"})

        async with socket(ann_url, ann_token) as ann_ws, socket(bob_url, bob_token) as bob_ws:
            await ann_ws.send(json.dumps({"t": "action", "name": "select", "game": "tictactoe"}))
            await _until(bob_ws, "arena", "<b>Tic-tac-toe</b>")  # the host's pick reaches the other server
            await _until(ann_ws, "arena", 'id="start"')
            await bob_ws.send(json.dumps({"t": "action", "name": "start"}))
            assert "Only the host (ann) can" in (await _until(bob_ws, "flash", ""))["text"]
            await ann_ws.send(json.dumps({"t": "action", "name": "start"}))
            await _until(ann_ws, "board", "Your turn (X)")
            await _until(bob_ws, "board", "Waiting for ann")
            moves = [(ann_ws, "0"), (bob_ws, "3"), (ann_ws, "1"), (bob_ws, "4"), (ann_ws, "2")]
            for turn, (ws, cell) in enumerate(moves, start=1):
                mark = "X" if ws is ann_ws else "O"
                await ws.send(json.dumps({"t": "event", "name": "cell-clicked",
                                          "value": {"cell": cell, "value": ""}}))
                other = bob_ws if ws is ann_ws else ann_ws
                board = await _until(other, "board", f'phx-value-cell="{cell}">{mark}</button>')
                assert board["version"] == turn
            assert "ann wins!" in board["html"]  # bob's board after the last move
            assert "You win!" in (await _until(ann_ws, "board", "win"))["html"]
        # a reload on either server shows the finished game
        page = await ann.get(f"/arena/{code}")
        assert "You win!" in page.text
        csrf = CSRF.search((await bob.get("/")).text)
        assert csrf is not None
        refused = await bob.post("/join", data={"code": "zzzz", "name": "cy", "csrf": csrf.group(1)})
        assert refused.status_code == 400 and "there is no arena &#39;ZZZZ&#39;" in refused.text


@pytest.mark.timeout(300)
def test_two_servers_share_an_arena_on_ray(two_servers: list[str]) -> None:  # noqa: F811
    asyncio.run(_play(*two_servers))


def test_serve_with_ray_needs_the_shared_catalogue() -> None:
    from click.testing import CliRunner

    from wasmplug.cli import main

    # Refused before Ray is touched (no ray.init in pytest's process).
    result = CliRunner().invoke(main, ["gamebox", "serve", "--ray", "127.0.0.1:1"])
    assert result.exit_code == 2
    assert "--ray needs the catalogue every server shares: give --database-url" in result.output
