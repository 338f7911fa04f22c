"""The chat-completions client against a real local server: answers, retries, errors."""

from __future__ import annotations

import pytest

from wasmplug import Error
from wasmplug.gen.errors import ApiError
from wasmplug.gen.llm import DEFAULT_BASE_URL, ChatClient

from ..chat_server import Reply, chat_server

MESSAGES = [{"role": "user", "content": "hi"}]


def client(base_url: str, **options: object) -> ChatClient:
    sleeps: list[float] = []
    made = ChatClient(api_key="sk-test", base_url=base_url, model="test-model", backoff=0.01,
                      sleep=sleeps.append, **options)  # type: ignore[arg-type]
    made.sleeps = sleeps  # type: ignore[attr-defined]
    return made


def test_returns_first_choice_and_sends_key_model_messages() -> None:
    with chat_server(["the answer"]) as server:
        assert client(server.base_url).complete(MESSAGES) == "the answer"
    (request,) = server.requests
    assert request["path"] == "/v1/chat/completions"
    assert request["headers"]["authorization"] == "Bearer sk-test"
    assert request["body"]["model"] == "test-model"
    assert request["body"]["messages"] == MESSAGES


def test_429_is_retried_with_growing_backoff() -> None:
    with chat_server([Reply(429, "slow down"), Reply(429, "slow down"), "finally"]) as server:
        made = client(server.base_url)
        assert made.complete(MESSAGES) == "finally"
    assert len(server.requests) == 3
    assert made.sleeps == [0.01, 0.02]  # type: ignore[attr-defined]


def test_429_retry_after_is_honoured_up_to_max_wait() -> None:
    with chat_server([Reply(429, headers={"Retry-After": "7"}), "ok"]) as server:
        made = client(server.base_url, max_wait=5.0)
        assert made.complete(MESSAGES) == "ok"
    assert made.sleeps == [5.0]  # type: ignore[attr-defined]


def test_429_gives_up_after_the_retries_with_a_clear_message() -> None:
    with chat_server([Reply(429, "Rate limit reached for requests")]) as server, \
            pytest.raises(ApiError) as info:
        client(server.base_url, retries=2).complete(MESSAGES)
    assert len(server.requests) == 3
    assert info.value.status == 429
    message = str(info.value)
    assert "rate limiting (429 Too Many Requests: Rate limit reached for requests)" in message
    assert "gave up after 3 tries over 0.0 s" in message


def test_401_names_the_key_and_is_not_retried() -> None:
    with chat_server([Reply(401, "Incorrect API key provided: sk-test")]) as server, \
            pytest.raises(ApiError) as info:
        client(server.base_url).complete(MESSAGES)
    assert len(server.requests) == 1
    assert info.value.status == 401
    assert isinstance(info.value, Error)
    assert str(info.value) == (
        f"the chat-completions API at {server.base_url}/chat/completions refused the API key "
        "(401 Unauthorized: Incorrect API key provided: sk-test); set OPENAI_API_KEY to a valid key")


def test_500_says_the_server_failed() -> None:
    with chat_server([Reply(500, "The server had an error")]) as server, \
            pytest.raises(ApiError) as info:
        client(server.base_url).complete(MESSAGES)
    assert len(server.requests) == 1
    assert info.value.status == 500
    assert str(info.value).endswith(
        "failed with 500 Internal Server Error: The server had an error; the server has a problem, "
        "try again later")


def test_wrong_base_url_404() -> None:
    with chat_server(["unused"]) as server, pytest.raises(
            ApiError, match=r"answered 404 Not Found: no route /chat/completions; "
                            r"check OPENAI_BASE_URL \(it should end in /v1\)"):
        client(server.base_url.removesuffix("/v1")).complete(MESSAGES)


def test_unreachable_server() -> None:
    with chat_server(["unused"]) as server:
        url = server.base_url
    with pytest.raises(ApiError, match=r"could not reach the chat-completions API at .*check "
                                       r"OPENAI_BASE_URL"):
        client(url).complete(MESSAGES)


def test_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    with pytest.raises(ApiError, match="no API key: set OPENAI_API_KEY"):
        ChatClient.from_env()
    monkeypatch.setenv("OPENAI_API_KEY", "sk-env")
    made = ChatClient.from_env(model="m1")
    assert (made.api_key, made.base_url, made.model) == ("sk-env", DEFAULT_BASE_URL, "m1")
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    assert ChatClient.from_env().endpoint == "http://127.0.0.1:9/v1/chat/completions"
