"""A small client for OpenAI-compatible chat-completions APIs, over httpx.

`ChatClient.from_env()` reads `OPENAI_API_KEY` and `OPENAI_BASE_URL` (default
`https://api.openai.com/v1`); `complete(messages)` POSTs to
`{base_url}/chat/completions` and returns the first choice's message text.
A 429 answer is retried with exponential backoff (honouring `Retry-After`);
every other failure raises `ApiError` with the status and the server's message.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .errors import ApiError

if TYPE_CHECKING:  # httpx is imported on the first request: `gen run` never needs it
    import httpx

logger = logging.getLogger("wasmplug.gen")

DEFAULT_BASE_URL = "https://api.openai.com/v1"
DEFAULT_MODEL = "gpt-4o-mini"
Message = dict[str, str]


@dataclass
class ChatClient:
    """Talks to one chat-completions endpoint.

    `retries` is how many times a 429 answer is retried; the n-th retry waits
    `backoff * 2**n` seconds, or the server's `Retry-After` if it asks for
    longer (at most `max_wait` seconds either way).
    """

    api_key: str
    base_url: str = DEFAULT_BASE_URL
    model: str = DEFAULT_MODEL
    timeout: float = 120.0
    retries: int = 4
    backoff: float = 1.0
    max_wait: float = 30.0
    temperature: float = 0.0
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)
    _http: httpx.Client | None = field(default=None, init=False, repr=False)

    @classmethod
    def from_env(cls, model: str | None = None, base_url: str | None = None,
                 api_key: str | None = None, **options: Any) -> ChatClient:
        """A client configured from arguments, falling back to OPENAI_API_KEY / OPENAI_BASE_URL."""
        key = api_key if api_key is not None else os.environ.get("OPENAI_API_KEY", "")
        if not key:
            raise ApiError("no API key: set OPENAI_API_KEY (any non-empty value works for a local "
                           "server that does not check keys)")
        url = base_url or os.environ.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL
        return cls(api_key=key, base_url=url, model=model or DEFAULT_MODEL, **options)

    @property
    def endpoint(self) -> str:
        return self.base_url.rstrip("/") + "/chat/completions"

    def complete(self, messages: Sequence[Message]) -> str:
        """Send the conversation; return the text of the first choice's message."""
        import httpx

        payload = {"model": self.model, "messages": list(messages), "temperature": self.temperature}
        headers = {"Authorization": f"Bearer {self.api_key}"}
        waited = 0.0
        for attempt in range(self.retries + 1):
            try:
                response = self._client().post(self.endpoint, json=payload, headers=headers)
            except httpx.HTTPError as exc:
                raise ApiError(f"could not reach the chat-completions API at {self.endpoint}: "
                               f"{exc or type(exc).__name__}; check OPENAI_BASE_URL and the "
                               "network") from None
            if response.status_code == 429 and attempt < self.retries:
                delay = self._delay(attempt, response)
                logger.info("%s answered 429 (%s); retrying in %.2f s", self.endpoint,
                            _server_message(response), delay)
                self.sleep(delay)
                waited += delay
                continue
            if response.status_code != 200:
                raise _api_error(self.endpoint, response, attempt + 1, waited)
            return _first_message(self.endpoint, response)
        raise AssertionError("unreachable")  # the last attempt returns or raises

    def _client(self) -> httpx.Client:
        import httpx

        if self._http is None:
            self._http = httpx.Client(timeout=self.timeout, follow_redirects=False)
        return self._http

    def close(self) -> None:
        if self._http is not None:
            self._http.close()
            self._http = None

    def _delay(self, attempt: int, response: httpx.Response) -> float:
        delay: float = self.backoff * 2.0**attempt
        with contextlib.suppress(ValueError):  # an HTTP date: the backoff will do
            delay = max(delay, float(response.headers.get("Retry-After", "0")))
        return min(delay, self.max_wait)


def _server_message(response: httpx.Response) -> str:
    """The API's own explanation: `error.message` of an OpenAI-style body, else the text."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            return str(error["message"])
        if isinstance(error, str):
            return error
    text = response.text.strip()
    return text[:300] + ("..." if len(text) > 300 else "") if text else "(empty body)"


def _api_error(endpoint: str, response: httpx.Response, tries: int, waited: float) -> ApiError:
    status = response.status_code
    what = f"{status} {response.reason_phrase}".strip()
    message = _server_message(response)
    if status == 401:
        text = (f"the chat-completions API at {endpoint} refused the API key ({what}: {message}); "
                "set OPENAI_API_KEY to a valid key")
    elif status == 429:
        text = (f"the chat-completions API at {endpoint} is rate limiting ({what}: {message}); "
                f"gave up after {tries} tries over {waited:.1f} s: wait a while, or check your quota")
    elif status == 404:
        text = (f"the chat-completions API at {endpoint} answered {what}: {message}; check "
                "OPENAI_BASE_URL (it should end in /v1) and the model name")
    elif status >= 500:
        text = (f"the chat-completions API at {endpoint} failed with {what}: {message}; "
                "the server has a problem, try again later")
    else:
        text = f"the chat-completions API at {endpoint} refused the request with {what}: {message}"
    return ApiError(text, status)


def _first_message(endpoint: str, response: httpx.Response) -> str:
    try:
        content = response.json()["choices"][0]["message"]["content"]
    except (ValueError, KeyError, IndexError, TypeError):
        content = None
    if not isinstance(content, str):
        raise ApiError(f"the chat-completions API at {endpoint} answered 200 without a message "
                       f"(expected choices[0].message.content): {response.text[:200]!r}", 200)
    return content
