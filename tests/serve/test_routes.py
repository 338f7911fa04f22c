"""HTTP-handler functions: a route's requests reach the function as JSON and its JSON answer becomes
the response (JavaScript and AssemblyScript examples); malformed answers are the plug-in's failure."""

from __future__ import annotations

import base64
import json

from .conftest import AS, ROOT, Server

JS_HANDLER = ROOT / "plugins" / "serve" / "handler.js"


def test_javascript_handler(server: Server) -> None:
    deployed = server.deployed("hello", JS_HANDLER, route="/hello", public=True)
    assert deployed["route"] == "/hello"
    got = server.client.get(f"{server.url}/hello/ada?greeting=hi", headers={"user-agent": "tester"})
    assert got.status_code == 200 and got.headers["x-handler"] == "javascript"
    assert got.json() == {"message": "hi, ada", "agent": "tester"}
    assert "sandbox" in got.headers["content-security-policy"]  # a function's page is its own origin
    posted = server.client.post(f"{server.url}/hello", content="some text")
    assert posted.status_code == 201 and posted.text == "you sent: some text"
    assert server.client.get(f"{server.url}/hello").json()["message"] == "hello, world"
    assert server.client.get(f"{server.url}/hellox").status_code == 404  # not under the route
    # The server's own pages are not sandboxed (the playground's scripts must run).
    assert "sandbox" not in server.client.get(f"{server.url}/healthz").headers["content-security-policy"]


def test_assemblyscript_handler(server: Server) -> None:
    server.deployed("as-hello", AS / "http_handler.wasm", route="/as", public=True)
    got = server.client.delete(f"{server.url}/as/x/y?q=1")
    assert got.status_code == 200 and got.headers["x-handler"] == "assemblyscript"
    assert got.text == "hello from AssemblyScript: DELETE /as/x/y ?q=1"


def test_request_json_contract(server: Server) -> None:
    echo_request = b"function handle() { Host.outputString(JSON.stringify({body: Host.inputString()})); }\n" \
                   b"module.exports = { handle };"
    server.deployed("mirror", echo_request, route="/mirror")  # protected
    token = server.token_for("caller")
    got = server.client.put(f"{server.url}/mirror/a/b?x=1&y=%20", content=b"\xff\x00binary",
                            headers={**server.auth(token), "X-Custom": "v1"})
    assert got.status_code == 200
    seen = json.loads(got.text)
    assert seen["method"] == "PUT" and seen["path"] == "/mirror/a/b" and seen["query"] == "x=1&y=%20"
    assert seen["headers"]["x-custom"] == "v1"
    assert "authorization" not in seen["headers"]  # the caller's server token is not the function's
    assert base64.b64decode(seen["body_base64"]) == b"\xff\x00binary" and "body" not in seen
    text = server.client.post(f"{server.url}/mirror", content="plain", headers=server.auth(token))
    assert json.loads(text.text)["body"] == "plain"
    assert server.client.get(f"{server.url}/mirror").status_code == 401


def test_malformed_handler_answers_are_502(server: Server) -> None:
    answers = {
        "notjson": "'nope'", "array": "'[1]'", "badstatus": "JSON.stringify({status: 99})",
        "badheaders": "JSON.stringify({headers: {'x': 'a\\r\\nset-cookie: evil=1'}})",
        "badb64": "JSON.stringify({body_base64: '!!!'})", "numbody": "JSON.stringify({body: 5})",
        "framing": "JSON.stringify({headers: {'content-length': '999', 'x-ok': 'yes'}, body: 'short'})",
    }
    cases = ", ".join(f"'/bad/{name}': () => {expression}" for name, expression in answers.items())
    js = (f"const answers = {{ {cases} }};\n"
          "function handle() { Host.outputString(answers[JSON.parse(Host.inputString()).path]()); }\n"
          "module.exports = { handle };")
    server.deployed("bad", js.encode(), route="/bad", public=True)
    for name in answers:
        got = server.client.get(f"{server.url}/bad/{name}")
        if name == "framing":  # framing headers are the server's: dropped, the rest kept
            assert got.status_code == 200 and got.text == "short" and got.headers["x-ok"] == "yes"
            continue
        assert got.status_code == 502 and got.json()["kind"] == "bad_handler_response", (name, got.text)
        assert "set-cookie" not in got.headers


def test_routes_are_unique_and_follow_versions(server: Server) -> None:
    server.deployed("one", JS_HANDLER, route="/shared", public=True)
    taken = server.deploy("two", JS_HANDLER, route="/shared", public=True)
    assert taken.status_code == 409 and taken.json()["kind"] == "route_taken"
    server.deployed("one", JS_HANDLER, route="/moved", public=True)  # a new version, a new route
    assert server.client.get(f"{server.url}/shared").status_code == 404
    assert server.client.get(f"{server.url}/moved").status_code == 200
    server.deployed("two", JS_HANDLER, route="/shared", public=True)
    assert server.client.get(f"{server.url}/shared/x").json()["message"] == "hello, x"
