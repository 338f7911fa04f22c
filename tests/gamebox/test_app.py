"""HTTP and WebSocket, in-process through Starlette's test client."""

from __future__ import annotations

import logging
import re
import time
import warnings
from collections.abc import Iterator
from typing import Any

import pytest

from wasmplug.gamebox.app import create_app
from wasmplug.gamebox.arenas.state import Arenas
from wasmplug.web.security import CONTENT_SECURITY_POLICY

from .conftest import test_catalogue
from .loopback import with_html

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient, WebSocketTestSession
    from starlette.websockets import WebSocketDisconnect


@pytest.fixture
def client() -> Iterator[Any]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        app = create_app(test_catalogue(timeout_ms=300), arenas=Arenas(leave_after=60))
        with TestClient(app) as test_client:
            yield Browser(test_client)  # type: ignore[misc]


class Browser:
    """One person's browser: its own cookies, on the shared test client (one event loop).

    Its posts carry the CSRF token of its session, as the page's forms do."""

    def __init__(self, client: TestClient) -> None:
        self.client = client
        self.app = client.app
        self.cookies: dict[str, str] = {}

    @property
    def cookie(self) -> str:
        return "; ".join(f"{name}={value}" for name, value in self.cookies.items())

    def _keep_cookie(self, response: Any) -> None:
        self.cookies.update(response.cookies.items())
        self.client.cookies.clear()

    def get(self, url: str, **kwargs: Any) -> Any:
        response = self.client.get(url, headers={"cookie": self.cookie}, **kwargs)
        self._keep_cookie(response)
        return response

    def post(self, url: str, **kwargs: Any) -> Any:
        found = re.search(r'name="csrf" value="([^"]+)"', self.get("/").text)
        if found and isinstance(kwargs.get("data"), dict):
            kwargs["data"] = {"csrf": found.group(1), **kwargs["data"]}
        response = self.client.post(url, headers={"cookie": self.cookie}, **kwargs)
        self._keep_cookie(response)
        return response

    def websocket_connect(self, url: str) -> Any:
        return self.client.websocket_connect(url, headers={"cookie": self.cookie})


def new_client(client: Any) -> Any:
    """Another browser (own cookies) on the same app."""
    return Browser(client.client if isinstance(client, Browser) else client)


def create(client: Any, name: str) -> str:
    response = client.post("/arenas", data={"name": name}, follow_redirects=False)
    assert response.status_code == 303
    return str(response.headers["location"]).rsplit("/", 1)[-1]


def join(client: Any, code: str, name: str) -> None:
    response = client.post("/join", data={"code": code.lower(), "name": name}, follow_redirects=False)
    assert response.status_code == 303, response.text
    assert response.headers["location"] == f"/arena/{code}"


def until(ws: WebSocketTestSession, kind: str, contains: str = "") -> dict[str, Any]:
    """The next message of `kind` (whose html/text contains `contains`)."""
    for _ in range(50):
        message: dict[str, Any] = with_html(ws.receive_json())
        if message["t"] == kind and contains in message.get("html", message.get("text", "")):
            return message
    raise AssertionError(f"no {kind} message containing {contains!r}")


def test_pages_carry_a_strict_csp(client: Any) -> None:
    home = client.get("/")
    assert home.status_code == 200
    csp = home.headers["content-security-policy"]
    assert csp == CONTENT_SECURITY_POLICY
    assert "script-src 'self'" in csp and "default-src 'none'" in csp and "connect-src 'self'" in csp
    assert "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]
    assert home.headers["x-content-type-options"] == "nosniff"
    script = client.get("/static/gamebox.js")
    assert script.status_code == 200 and "WebSocket" in script.text
    assert "<script>" not in home.text  # no inline script anywhere


def test_create_join_and_invite_link(client: Any) -> None:
    code = create(client, "ann")
    page = client.get(f"/arena/{code}")
    assert page.status_code == 200
    assert f'value="http://testserver/?arena={code}"' in page.text and 'id="you-host"' in page.text
    invite = client.get(f"/?arena={code}")
    assert f"Join arena <span class=\"code\">{code}</span>" in invite.text
    bob = new_client(client)
    join(bob, code, "bob")
    assert bob.get(f"/arena/{code}").status_code == 200
    assert 'id="you-host"' not in bob.get(f"/arena/{code}").text


def test_join_errors_are_shown(client: Any) -> None:
    code = create(client, "ann")
    other = new_client(client)
    taken = other.post("/join", data={"code": code, "name": "ANN"})
    assert taken.status_code == 400 and "is taken" in taken.text
    short = other.post("/join", data={"code": code, "name": "x"})
    assert short.status_code == 400 and "2 to 12 characters" in short.text
    missing = other.post("/join", data={"code": "ZZZZ", "name": "bob"})
    assert missing.status_code == 400 and "no arena" in missing.text


def test_non_members_are_sent_to_the_join_form(client: Any) -> None:
    code = create(client, "ann")
    stranger = new_client(client)
    response = stranger.get(f"/arena/{code}", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == f"/?arena={code}"
    with stranger.websocket_connect(f"/arena/{code}/ws") as ws:
        with pytest.raises(Exception) as closed:
            ws.receive_json()
        assert closed.value.code == 4404


def test_sockets_from_other_sites_are_refused(client: Any) -> None:
    code = create(client, "ann")
    headers = {"cookie": client.cookie, "origin": "http://evil.example"}
    with client.client.websocket_connect(f"/arena/{code}/ws", headers=headers) as ws:
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json()
        assert closed.value.code == 4403
    same = {"cookie": client.cookie, "origin": "http://testserver"}
    with client.client.websocket_connect(f"/arena/{code}/ws", headers=same) as ws:
        assert ws.receive_json()["t"] in ("arena", "board")


def play(client: Any, bob: Any, code: str, game: str) -> tuple[Any, Any]:
    ann_ws = client.websocket_connect(f"/arena/{code}/ws").__enter__()
    bob_ws = bob.websocket_connect(f"/arena/{code}/ws").__enter__()
    ann_ws.send_json({"t": "action", "name": "select", "game": game})
    until(ann_ws, "arena", 'id="start"')
    ann_ws.send_json({"t": "action", "name": "start"})
    return ann_ws, bob_ws


def test_host_only_actions_are_enforced_by_the_server(client: Any) -> None:
    code = create(client, "ann")
    bob = new_client(client)
    join(bob, code, "bob")
    with bob.websocket_connect(f"/arena/{code}/ws") as ws:
        for action in ({"name": "select", "game": "tictactoe"}, {"name": "start"}, {"name": "lobby"},
                       {"name": "restart"}):
            ws.send_json({"t": "action", **action})
            assert "Only the host (ann) can" in until(ws, "flash")["text"]
        ws.send_json({"t": "event", "name": "cell-clicked", "value": {"cell": "0"}})
        assert "The game is not running" in until(ws, "flash")["text"]
        ws.send_text("garbage")
        assert "Message is not JSON" in until(ws, "flash")["text"]
    assert client.app.state.engine.arenas.get(code).game is None  # type: ignore[attr-defined]


def test_tictactoe_over_websockets(client: Any) -> None:
    code = create(client, "ann")
    bob = new_client(client)
    join(bob, code, "bob")
    ann_ws, bob_ws = play(client, bob, code, "tictactoe")
    try:
        assert "Your turn (X)" in until(ann_ws, "board", "cell-clicked")["html"]
        assert "Waiting for ann" in until(bob_ws, "board", "cell-clicked")["html"]
        ann_ws.send_json({"t": "event", "name": "cell-clicked", "value": {"cell": "4", "value": ""}})
        board = until(bob_ws, "board", "Your turn (O)")
        assert board["version"] == 1 and 'phx-value-cell="4">X</button>' in board["html"]
        ann_ws.send_json({"t": "event", "name": "cell-clicked", "value": {"cell": "0", "value": ""}})
        # not ann's turn: only ann is re-rendered, with the game's notice
        assert "It is not your turn." in until(ann_ws, "board", "not your turn")["html"]
        # the page itself (a reload) shows the current board
        page = bob.get(f"/arena/{code}").text
        assert 'phx-value-cell="4">X</button>' in page and "Your turn (O)" in page
    finally:
        ann_ws.__exit__(None, None, None)
        bob_ws.__exit__(None, None, None)


def test_a_failing_game_keeps_the_arena_and_the_host_restarts(client: Any,
                                                            caplog: pytest.LogCaptureFixture) -> None:
    code = create(client, "ann")
    bob = new_client(client)
    join(bob, code, "bob")
    ann_ws, bob_ws = play(client, bob, code, "failing")
    try:
        until(ann_ws, "board", "crash")
        with caplog.at_level(logging.WARNING, "wasmplug.gamebox"):
            bob_ws.send_json({"t": "event", "name": "loop", "value": {}})
            failed = until(ann_ws, "arena", "failed in handle_event")
        assert "timeout" in failed["html"] and "restart" in failed["html"].lower()
        assert 'id="restart"' in failed["html"]
        assert any("game failing" in r.getMessage() and "timeout" in r.getMessage() for r in caplog.records)
        assert until(bob_ws, "arena", "failed in handle_event")
        # other arenas are not affected
        other = new_client(client)
        other_code = create(other, "zed")
        assert other.get(f"/arena/{other_code}").status_code == 200
        ann_ws.send_json({"t": "action", "name": "restart"})
        until(ann_ws, "board", "Version 0")
        bob_ws.send_json({"t": "event", "name": "ok", "value": {}})
        until(ann_ws, "board", "Version 1")
        ann_ws.send_json({"t": "action", "name": "lobby"})
        until(ann_ws, "arena", "Pick a game")
    finally:
        ann_ws.__exit__(None, None, None)
        bob_ws.__exit__(None, None, None)


def test_leave_moves_the_host_and_redirects(client: Any) -> None:
    code = create(client, "ann")
    bob = new_client(client)
    join(bob, code, "bob")
    with client.websocket_connect(f"/arena/{code}/ws") as ann_ws, \
            bob.websocket_connect(f"/arena/{code}/ws") as bob_ws:
        ann_ws.send_json({"t": "action", "name": "leave"})
        assert until(ann_ws, "redirect")["url"] == "/"
        assert 'id="you-host"' in until(bob_ws, "arena", "ann left; bob is the host now")["html"]
    assert client.get(f"/arena/{code}", follow_redirects=False).status_code == 303


def test_an_empty_arena_is_torn_down_and_its_game_stopped() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        app = create_app(test_catalogue(), arenas=Arenas(leave_after=0.3, teardown_after=0.3),
                         sweep_every=0.05)
        with TestClient(app) as test_client:
            ann = Browser(test_client)
            code = create(ann, "ann")
            box = app.state.engine
            with ann.websocket_connect(f"/arena/{code}/ws") as ws:
                ws.send_json({"t": "action", "name": "select", "game": "tictactoe"})
                until(ws, "arena", 'id="picked"')
                server = box.sessions[code].server
                assert server.running
            deadline = time.monotonic() + 10
            while code in box.arenas.arenas and time.monotonic() < deadline:
                time.sleep(0.05)
            assert code not in box.arenas.arenas and code not in box.sessions
            while server.running and time.monotonic() < deadline:  # stopped in a thread of its own
                time.sleep(0.05)
            assert not server.running
            gone = ann.get(f"/arena/{code}", follow_redirects=False)
            assert gone.status_code == 404 and f"there is no arena &#39;{code}&#39;" in gone.text
