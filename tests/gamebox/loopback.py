"""Real clients for a GameBox served on loopback (`conftest.live_server`): HTTP with httpx,
WebSockets with the `websockets` library, each `Visitor` with its own cookies."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from typing import Any

import httpx
from websockets.sync.client import ClientConnection, connect

CSRF_FIELD = re.compile(r'name="csrf" value="([^"]+)"')


class Visitor:
    """One browser: its own cookie jar, on the server at `url`."""

    def __init__(self, url: str, address: str = "127.0.0.1") -> None:
        self.url = url
        self.http = httpx.Client(base_url=url, timeout=30, follow_redirects=False,
                                 headers={"x-forwarded-for": address})

    def close(self) -> None:
        self.http.close()

    def csrf(self) -> str:
        """The CSRF token the home page's forms carry ("" when the server has none)."""
        found = CSRF_FIELD.search(self.http.get("/").text)
        return found.group(1) if found else ""

    def create(self, name: str) -> str:
        """Create an arena as `name`; its code."""
        response = self.http.post("/arenas", data={"name": name, "csrf": self.csrf()})
        assert response.status_code == 303, response.text
        return str(response.headers["location"]).rsplit("/", 1)[-1]

    def join(self, code: str, name: str) -> httpx.Response:
        return self.http.post("/join", data={"code": code, "name": name, "csrf": self.csrf()})

    def socket(self, code: str) -> ClientConnection:
        cookie = "; ".join(f"{name}={value}" for name, value in self.http.cookies.items())
        ws_url = self.url.replace("http://", "ws://") + f"/arena/{code}/ws"
        return connect(ws_url, additional_headers={"cookie": cookie}, open_timeout=10,
                       max_size=None)


def with_html(message: dict[str, Any]) -> dict[str, Any]:
    """`message`, and if it is a change of the arena part, its parts together as its "html"."""
    if message["t"] == "arena" and "html" not in message:
        items = "".join(item for _, item in message["members"])
        message["html"] = message["head"] + items + message["controls"]
    return message


def send(ws: ClientConnection, message: dict[str, Any]) -> None:
    ws.send(json.dumps(message))


def until(ws: ClientConnection, kind: str, contains: str = "", timeout: float = 30.0) -> dict[str, Any]:
    """The next message of `kind` whose html/text contains `contains` (a change of the arena
    part: its head, changed members and controls together, kept as its "html")."""
    deadline = time.monotonic() + timeout
    while True:
        text = ws.recv(timeout=max(0.01, deadline - time.monotonic()))
        message: dict[str, Any] = with_html(json.loads(text))
        if message["t"] == kind and contains in message.get("html", message.get("text", "")):
            return message


def poll(condition: Callable[[], Any], timeout: float = 30.0, what: str = "the condition") -> Any:
    """Wait (polling) until `condition()` is true; its value."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)
