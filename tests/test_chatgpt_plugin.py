"""plugins/assemblyscript/chatgpt.wasm: an LLM call through the HTTP host function,
against the fake chat-completions server on 127.0.0.1."""

from __future__ import annotations

import http.server
import json
import subprocess
import sys
from typing import Any

import extism
import pytest

from wasmplug import CallError, Plugin

from .chat_server import Reply, chat_server
from .conftest import wasm
from .http_server import serve_handler

CHATGPT = str(wasm("chatgpt"))


def chat_plugin(config: dict[str, str], allowed_hosts: list[str] | None = None) -> Plugin:
    manifest: dict[str, Any] = {"wasm": [{"path": CHATGPT}], "timeout_ms": 10_000}
    if allowed_hosts is not None:
        manifest["allowed_hosts"] = allowed_hosts
    return Plugin(manifest, config=config)


def test_returns_the_first_choice_and_sends_key_model_and_prompt() -> None:
    with chat_server(["Memory, linear,\nsandboxed — a module sings:\nsafe bytes, far from harm."]) as s:
        plugin = chat_plugin({"open_ai_key": "sk-secret", "base_url": s.base_url + "/"},
                             ["127.0.0.1"])
        out = plugin.call("call_chat_gpt", "Please write me a haiku about Wasm — “quoted”\n")
    assert out.decode() == "Memory, linear,\nsandboxed — a module sings:\nsafe bytes, far from harm."
    (request,) = s.requests
    assert request["path"] == "/v1/chat/completions"
    assert request["headers"]["authorization"] == "Bearer sk-secret"
    assert request["headers"]["content-type"] == "application/json"
    assert request["body"] == {"model": "gpt-4o-mini", "messages": [
        {"role": "user", "content": "Please write me a haiku about Wasm — “quoted”\n"}]}


def test_model_from_config() -> None:
    with chat_server(["ok"]) as s:
        plugin = chat_plugin({"open_ai_key": "k", "base_url": s.base_url, "model": "gpt-test"},
                             ["127.0.0.1"])
        assert plugin.call("call_chat_gpt", "hi") == b"ok"
    assert s.requests[0]["body"]["model"] == "gpt-test"


@pytest.mark.parametrize(("status", "message"), [
    (401, "Incorrect API key provided: sk-wrong"),
    (429, "Rate limit reached"),
    (500, "The server had an error while processing your request"),
])
def test_api_errors_are_plugin_errors_with_status_and_message(status: int, message: str) -> None:
    with chat_server([Reply(status, message)]) as s:
        plugin = chat_plugin({"open_ai_key": "sk-wrong", "base_url": s.base_url}, ["127.0.0.1"])
        with pytest.raises(CallError) as info:
            plugin.call("call_chat_gpt", "hi")
        assert str(info.value) == f"call_chat_gpt: the API answered {status}: {message}"
        assert info.value.code == 1
        # The plug-in is still usable after an API error.
        s.script[:] = ["recovered"]
        assert plugin.call("call_chat_gpt", "hi") == b"recovered"


def test_refused_without_the_host_allowed() -> None:
    with chat_server(["never sent"]) as s:
        for hosts in (None, [], ["api.openai.com"]):
            plugin = chat_plugin({"open_ai_key": "k", "base_url": s.base_url}, hosts)
            with pytest.raises(CallError, match=r"HTTP request to http://127\.0\.0\.1:\d+/v1/chat/"
                                                r"completions is not allowed"):
                plugin.call("call_chat_gpt", "hi")
    assert s.requests == []


def test_missing_key_and_empty_input() -> None:
    plugin = chat_plugin({}, ["127.0.0.1"])
    with pytest.raises(CallError, match=r"^call_chat_gpt: config 'open_ai_key' is missing"):
        plugin.call("call_chat_gpt", "hi")
    plugin = chat_plugin({"open_ai_key": "k"}, ["127.0.0.1"])
    with pytest.raises(CallError, match=r"^call_chat_gpt: the input is empty"):
        plugin.call("call_chat_gpt", "  ")


def test_answer_without_a_message() -> None:
    class Odd(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            data = json.dumps({"choices": []}).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    with serve_handler(Odd) as url:
        plugin = chat_plugin({"open_ai_key": "k", "base_url": url}, ["127.0.0.1"])
        with pytest.raises(CallError, match=r'no choices\[0\]\.message\.content: \{"choices": \[\]\}'):
            plugin.call("call_chat_gpt", "hi")


def test_runs_under_the_official_sdk_too() -> None:
    with chat_server(["from the official SDK"]) as s:
        manifest = {"wasm": [{"path": CHATGPT}], "allowed_hosts": ["127.0.0.1"]}
        with extism.Plugin(manifest, wasi=False, config={"open_ai_key": "k", "base_url": s.base_url},
                           functions=[]) as plugin:
            assert plugin.call("call_chat_gpt", "hi") == b"from the official SDK"


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "wasmplug", "call", CHATGPT, "call_chat_gpt", *args],
                          capture_output=True, text=True, timeout=60)


def test_the_seed_command_through_the_cli() -> None:
    """`wasmplug call … --set-config '{"open_ai_key": …}' --allow-host … --input …`, as in the seed."""
    with chat_server(["Bytes in a sandbox"]) as s:
        config = json.dumps({"open_ai_key": "sk-cli", "base_url": s.base_url})
        ok = _cli("--set-config", config, "--allow-host", "127.0.0.1",
                  "--input", "Please write me a haiku about Wasm")
        refused = _cli("--set-config", config, "--input", "Please write me a haiku about Wasm")
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout == "Bytes in a sandbox\n"
    assert s.requests[0]["headers"]["authorization"] == "Bearer sk-cli"
    assert len(s.requests) == 1  # the refused call never reached the server
    assert refused.returncode == 1
    assert "is not allowed" in refused.stderr and "--allow-host 127.0.0.1" in refused.stderr
