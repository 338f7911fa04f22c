"""A function's HTTP cannot reach the server's own network by a name that resolves inside it
(SSRF by DNS): serve blocks non-public addresses for every function unless the operator lists them."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from wasmplug.cli import main
from wasmplug.serve import ServerSettings

from ..conftest import AS
from ..http_server import serve
from .conftest import live_server

FETCHER = b"""
function run() {
  const r = Http.request({ url: Host.inputString(), method: "GET" });
  Host.outputString(r.status + ":" + r.body);
}
module.exports = { run };
"""


@pytest.fixture
def target(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A loopback HTTP server, reached by the public-looking name evil.example (resolver hook)."""
    real = socket.getaddrinfo

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        return real("127.0.0.1" if host == "evil.example" else host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    with serve(AS) as url:
        yield url.replace("127.0.0.1", "evil.example") + "/echo"


def _fetch(settings: ServerSettings, url: str) -> tuple[int, dict[str, Any] | bytes]:
    with live_server(settings) as srv:
        srv.deployed("fetch", FETCHER, public=True, allowed_hosts=["evil.example"])
        reply = srv.call("fetch", "run", url)
        return reply.status_code, reply.json() if reply.status_code != 200 else reply.content


def test_a_name_resolving_to_loopback_is_blocked_by_default(tmp_path: Path, target: str) -> None:
    status, body = _fetch(ServerSettings(data_dir=tmp_path), target)
    assert status == 502 and isinstance(body, dict), body
    assert body["kind"] == "plugin_error"
    assert (f"HTTP request to {target} is not allowed: evil.example resolves to 127.0.0.1, which is in "
            "the blocked network 127.0.0.0/8 (loopback)") in body["error"]


def test_the_operator_allows_listed_networks(tmp_path: Path, target: str) -> None:
    status, body = _fetch(ServerSettings(data_dir=tmp_path, allowed_networks=("127.0.0.0/8",)), target)
    assert status == 200 and isinstance(body, bytes) and body.startswith(b'200:{"method": "GET"'), body
    # A network that does not hold the address lets nothing more through.
    status, body = _fetch(ServerSettings(data_dir=tmp_path / "b", allowed_networks=("10.0.0.0/8",)), target)
    assert status == 502 and isinstance(body, dict) and "blocked network 127.0.0.0/8" in body["error"]


def test_an_address_in_an_allowed_network_may_be_an_allowed_host(tmp_path: Path) -> None:
    with live_server(ServerSettings(data_dir=tmp_path, allowed_networks=("10.1.0.0/16",))) as srv:
        assert srv.deploy("a", FETCHER, allowed_hosts=["10.1.2.3"]).status_code == 201
        refused = srv.deploy("b", FETCHER, allowed_hosts=["10.2.0.1"])
        assert refused.status_code == 400 and refused.json()["kind"] == "host_refused"


def test_the_playground_blocks_non_public_addresses(tmp_path: Path) -> None:
    from wasmplug.serve.playground import Playground, PlaygroundLimits

    manifest = Playground(PlaygroundLimits(allowed_hosts=("evil.example",)))._manifest({"data": b""})
    assert manifest["blocked_networks"] == ["non-public"]


def test_serve_refuses_a_bad_allow_network() -> None:
    result = CliRunner().invoke(main, ["serve", "--allow-network", "10.0.0.0/33"])
    assert result.exit_code == 2 and "'10.0.0.0/33' is not a network" in result.output, result.output
