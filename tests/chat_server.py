"""A fake OpenAI-compatible chat-completions server on 127.0.0.1, with scripted answers.

    with chat_server(["first answer", Reply(429), "second answer"]) as server:
        client = ChatClient(api_key="k", base_url=server.base_url)
        ...
        server.requests   # every request: {"path", "headers", "body"} (body parsed as JSON)

Each POST to /v1/chat/completions takes the next scripted reply: a string is a
200 completion whose first choice's message is that text; a `Reply` is any
status with an OpenAI-style error body. When the script runs out, the last
reply repeats.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from .http_server import serve_handler


@dataclass(frozen=True)
class Reply:
    status: int
    message: str = "scripted error"
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class ChatServer:
    script: list[str | Reply]
    base_url: str = ""
    requests: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def next_reply(self) -> str | Reply:
        with self.lock:
            return self.script.pop(0) if len(self.script) > 1 else self.script[0]

    @property
    def prompts(self) -> list[list[dict[str, str]]]:
        """The `messages` of every request, in order."""
        return [r["body"]["messages"] for r in self.requests]


def completion(text: str, model: str) -> dict[str, Any]:
    return {"id": "chatcmpl-test", "object": "chat.completion", "created": 0, "model": model,
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": text}}],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}


@contextmanager
def chat_server(script: Sequence[str | Reply]) -> Iterator[ChatServer]:
    state = ChatServer(list(script))

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def _send(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            try:
                body = json.loads(raw)
            except ValueError:
                body = {"unparsed": raw.decode("latin-1")}
            with state.lock:
                state.requests.append({"path": self.path, "body": body,
                                       "headers": {k.lower(): v for k, v in self.headers.items()}})
            if self.path != "/v1/chat/completions":
                self._send(404, {"error": {"message": f"no route {self.path}"}})
                return
            reply = state.next_reply()
            if isinstance(reply, Reply):
                self._send(reply.status, {"error": {"message": reply.message, "type": "test"}},
                           reply.headers)
            else:
                self._send(200, completion(reply, str(body.get("model", ""))))

    with serve_handler(Handler) as url:
        state.base_url = f"{url}/v1"
        yield state
