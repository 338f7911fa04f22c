"""The deploy API on a real server: deploy (.wasm, .js, manifest), show, list, versions, rollback,
delete; tokens, ownership, validation before traffic, secrets never shown; SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import json
import socket
from pathlib import Path
from typing import Any

import pytest

from wasmplug.serve import ServerSettings

from .conftest import COUNT_VOWELS, ECHO, Server, live_server

JS_HELLO = b"function hello() { Host.outputString('hello ' + Host.inputString()); }\n" \
           b"function _secret() { Host.outputString('internal'); }\nmodule.exports = { hello };"


def test_deploy_wasm_then_call(server: Server) -> None:
    reply = server.deploy("vowels", COUNT_VOWELS, public=True)
    assert reply.status_code == 201
    body = reply.json()
    assert body["name"] == "vowels" and body["version"] == 1 and body["url"] == "/f/vowels/"
    assert body["exports"] == ["count_vowels"] and len(body["sha256"]) == 64
    called = server.call("vowels", "count_vowels", "hello world")
    assert called.status_code == 200 and json.loads(called.content)["count"] == 3
    again = server.deploy("vowels", COUNT_VOWELS, public=True)
    assert again.status_code == 200 and again.json()["version"] == 2


def test_deploy_javascript_is_built(server: Server) -> None:
    body = server.deployed("hello", JS_HELLO, public=True)
    assert body["exports"] == ["hello"]  # the runtime's internal entry points are not listed
    assert server.call("hello", "hello", "bob").content == b"hello bob"
    for internal in ("__wasmplug_invoke", "__wasmplug_load", "_start", "_secret"):
        reply = server.call("hello", internal, "x")
        assert reply.status_code == 404, internal
        assert reply.json()["kind"] == "no_such_export"


def test_deploy_manifest_with_inline_modules_only(server: Server, tmp_path: Path) -> None:
    inline = {"wasm": [{"data": base64.b64encode(ECHO.read_bytes()).decode(), "name": "main"}]}
    assert server.deployed("echo", json.dumps(inline).encode(), public=True)["exports"] == ["echo"]
    assert server.call("echo", "echo", b"\x00\xffbytes").content == b"\x00\xffbytes"
    for hostile in ({"wasm": [{"path": "/etc/passwd"}]}, {"wasm": [{"url": "http://127.0.0.1:1/x"}]},
                    {"wasm": [{"data": "!!"}]}, {**inline, "allowed_paths": {"/": "/"}}):
        reply = server.deploy("evil", json.dumps(hostile).encode())
        assert reply.status_code == 400 and reply.json()["kind"] == "invalid_module", hostile
    assert server.client.get(f"{server.url}/api/functions/evil", headers=server.auth()).status_code == 404


def test_secrets_are_write_only(server: Server) -> None:
    js = b"function get() { Host.outputString(Config.get(Host.inputString()) || 'none'); }\n" \
         b"module.exports = { get };"
    server.deployed("cfg", js, config={"greeting": "hi"}, secret_config={"api_key": "s3cret-value"},
                    public=True)
    assert server.call("cfg", "get", "api_key").content == b"s3cret-value"
    assert server.call("cfg", "get", "greeting").content == b"hi"
    shown = server.client.get(f"{server.url}/api/functions/cfg", headers=server.auth())
    assert shown.status_code == 200
    assert shown.json()["settings"]["secret_config"] == ["api_key"]
    assert shown.json()["settings"]["config"] == {"greeting": "hi"}
    for path in ("/api/functions/cfg", "/api/functions/cfg/versions", "/api/functions"):
        assert b"s3cret-value" not in server.client.get(server.url + path, headers=server.auth()).content
    # A redeploy without secret_config keeps the secrets (they cannot be read back to resend).
    server.deployed("cfg", js, config={"greeting": "hello"}, public=True)
    assert server.call("cfg", "get", "api_key").content == b"s3cret-value"


def test_tokens_and_ownership(server: Server) -> None:
    assert server.deploy("x", COUNT_VOWELS, token="gbt_wrong").status_code == 401
    no_auth = server.client.get(f"{server.url}/api/functions")
    assert no_auth.status_code == 401 and no_auth.json()["kind"] == "unauthorized"
    alice, bob = server.token_for("alice"), server.token_for("bob")
    assert server.deploy("alices", COUNT_VOWELS, token=alice).status_code == 201
    taken = server.deploy("alices", ECHO, token=bob)
    assert taken.status_code == 403 and taken.json()["kind"] == "forbidden"
    assert server.client.delete(f"{server.url}/api/functions/alices", headers=server.auth(bob)
                                ).status_code == 403
    listed = server.client.get(f"{server.url}/api/functions", headers=server.auth(bob)).json()
    assert listed == {"functions": []}
    mine = server.client.get(f"{server.url}/api/functions", headers=server.auth(alice)).json()
    assert [f["name"] for f in mine["functions"]] == ["alices"]
    # A protected function needs a token to be called.
    assert server.call("alices", "count_vowels", "a").status_code == 401
    assert server.call("alices", "count_vowels", "a", headers=server.auth(bob)).status_code == 200


@pytest.mark.parametrize(("settings", "kind"), [
    ({"timeout_ms": 0}, "invalid_deploy"),
    ({"memory_max_pages": 10**9}, "invalid_deploy"),
    ({"max_instances": True}, "invalid_deploy"),
    ({"config": {"k": 5}}, "invalid_deploy"),
    ({"config": {f"k{i}": "v" for i in range(65)}}, "invalid_deploy"),
    ({"nonsense": 1}, "invalid_deploy"),
    ({"route": "/api/x"}, "bad_route"),
    ({"route": "../etc"}, "bad_route"),
    ({"route": "/hello", "route_export": "handle"}, "no_such_export"),
    ({"sample_input": "x", "sample_export": "_start"}, "bad_export"),
])
def test_bad_settings_are_refused_with_the_reason(server: Server, settings: dict[str, Any],
                                                  kind: str) -> None:
    reply = server.deploy("f", COUNT_VOWELS, **settings)
    assert reply.status_code == 400, reply.text
    assert reply.json()["kind"] == kind
    assert reply.json()["error"]


def test_bad_modules_and_names(server: Server) -> None:
    for module, kind in ((b"\0asm\x01\0\0\0garbage", "invalid_module"),
                         (b"this is not { javascript", "invalid_module"),
                         (b"\xff\xfe\x00", "invalid_module"),
                         ((Path(__file__).parents[2] / "plugins/hostile/import_missing.wasm").read_bytes(),
                          "invalid_module")):
        reply = server.deploy("bad", module)
        assert reply.status_code == 400 and reply.json()["kind"] == kind, reply.text
    for name in ("UPPER", "-x", "a" * 64, "has space"):
        assert server.deploy(name, COUNT_VOWELS).status_code in (400, 404)
    assert server.client.get(f"{server.url}/api/functions/bad", headers=server.auth()).status_code == 404


def test_trial_call_keeps_a_failing_version_out(server: Server) -> None:
    js_ok = b"function run() { Host.outputString('v1'); }\nmodule.exports = { run };"
    js_bad = b"function run() { throw new Error('broken on purpose'); }\nmodule.exports = { run };"
    server.deployed("trial", js_ok, public=True, sample_input="x")
    reply = server.deploy("trial", js_bad, public=True, sample_input="x")
    assert reply.status_code == 400 and reply.json()["kind"] == "trial_failed"
    assert "broken on purpose" in reply.json()["error"]
    assert server.call("trial", "run").content == b"v1"  # the good version still serves
    versions = server.client.get(f"{server.url}/api/functions/trial/versions", headers=server.auth())
    assert [v["version"] for v in versions.json()["versions"]] == [1]


def test_versions_rollback_and_delete(server: Server) -> None:
    for tag in ("one", "two"):
        server.deployed("ver", f"function v() {{ Host.outputString('{tag}'); }}\nmodule.exports={{v}};"
                        .encode(), public=True)
    assert server.call("ver", "v").content == b"two"
    rolled = server.client.post(f"{server.url}/api/functions/ver/rollback", json={"version": 1},
                                headers=server.auth())
    assert rolled.status_code == 200 and rolled.json()["version"] == 1
    assert server.call("ver", "v").content == b"one"
    versions = server.client.get(f"{server.url}/api/functions/ver/versions", headers=server.auth()).json()
    assert [(v["version"], v["active"]) for v in versions["versions"]] == [(1, True), (2, False)]
    for bad in ({"version": 9}, {"version": "1"}, [1]):
        reply = server.client.post(f"{server.url}/api/functions/ver/rollback", json=bad,
                                   headers=server.auth())
        assert reply.status_code in (400, 404), bad
    # Rolling forward again loses nothing.
    server.client.post(f"{server.url}/api/functions/ver/rollback", json={"version": 2}, headers=server.auth())
    assert server.call("ver", "v").content == b"two"
    deleted = server.client.delete(f"{server.url}/api/functions/ver", headers=server.auth())
    assert deleted.status_code == 200
    assert server.call("ver", "v").status_code == 404


def test_functions_survive_a_restart(tmp_path: Path) -> None:
    settings = ServerSettings(data_dir=tmp_path)
    with live_server(settings) as first:
        first.deployed("kept", COUNT_VOWELS, public=True)
    with live_server(settings) as second:
        second.client.get(f"{second.url}/readyz")
        assert json.loads(second.call("kept", "count_vowels", "aaa").content)["count"] == 3


def test_postgresql(postgres_url: str) -> None:
    with live_server(ServerSettings(database_url=postgres_url)) as pg:
        assert pg.deploy("pgfn", COUNT_VOWELS, public=True).status_code == 201
        assert pg.deploy("pgfn", COUNT_VOWELS, public=True).json()["version"] == 2
        assert json.loads(pg.call("pgfn", "count_vowels", "aei").content)["count"] == 3
        versions = pg.client.get(f"{pg.url}/api/functions/pgfn/versions", headers=pg.auth()).json()
        assert len(versions["versions"]) == 2


def test_deploy_body_cap(tmp_path: Path) -> None:
    with live_server(ServerSettings(data_dir=tmp_path, max_module_bytes=4096)) as small:
        reply = small.deploy("big", COUNT_VOWELS)  # ~20 KB module, ~3 MB of slack for the form
        assert reply.status_code == 413 and reply.json()["kind"] == "too_large"
        # A declared gigabyte is refused before any of it is sent.
        host, port = small.url.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=30) as sock:
            sock.sendall(f"PUT /api/functions/huge HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
                         f"{small.token}\r\nContent-Type: multipart/form-data; boundary=x\r\n"
                         f"Content-Length: {10**9}\r\n\r\n".encode())
            assert sock.recv(100).startswith(b"HTTP/1.1 413")
        assert small.client.get(f"{small.url}/healthz").status_code == 200


def test_allowed_hosts_may_not_reach_the_servers_network(tmp_path: Path) -> None:
    with live_server(ServerSettings(data_dir=tmp_path)) as strict:
        for host in ("169.254.169.254", "127.0.0.1", "10.0.0.8", "[::1]", "localhost", "db.internal",
                     "printer.local", "*", "*.*", "a.*", "::ffff:127.0.0.1"):
            reply = strict.deploy("fetcher", COUNT_VOWELS, allowed_hosts=[host])
            assert reply.status_code == 400 and reply.json()["kind"] == "host_refused", host
        assert strict.deploy("fetcher", COUNT_VOWELS, allowed_hosts=["api.example.com", "*.example.org",
                                                                      "93.184.216.34"]).status_code == 201
