"""Messages from the browser: events and actions, validated."""

from __future__ import annotations

import json

import pytest

from wasmplug.gamebox.protocol import (
    Action,
    Event,
    ProtocolError,
    game_event,
    parse_message,
)


def test_event_becomes_the_game_api_input() -> None:
    message = parse_message(json.dumps({"t": "event", "name": "cell-clicked",
                                        "value": {"cell": "3", "value": ""}}))
    assert message == Event("cell-clicked", {"cell": "3", "value": ""})
    assert game_event("ann", message) == {"player_id": "ann", "event_name": "cell-clicked",
                                          "value": {"cell": "3", "value": ""}}


def test_actions() -> None:
    assert parse_message('{"t": "action", "name": "select", "game": "trivia"}') == Action("select", "trivia")
    assert parse_message('{"t": "action", "name": "start"}') == Action("start", "")


@pytest.mark.parametrize(("text", "error"), [
    ("not json", "not JSON"),
    ("[1]", "JSON object"),
    ('{"t": "event"}', "name"),
    ('{"t": "event", "name": ""}', "name"),
    ('{"t": "event", "name": "x", "value": {"a": 1}}', "string"),
    ('{"t": "event", "name": "x", "value": [1]}', "object"),
    (json.dumps({"t": "event", "name": "x", "value": {str(i): "" for i in range(40)}}), "at most 32"),
    (json.dumps({"t": "event", "name": "x", "value": {"a": "y" * 2000}}), "1000"),
    ('{"t": "action", "name": "explode"}', "unknown action"),
    ('{"t": "chat", "name": "x"}', "unknown message type"),
    ("x" * 20000, "too large"),
])
def test_bad_messages_are_refused_clearly(text: str, error: str) -> None:
    with pytest.raises(ProtocolError, match=error):
        parse_message(text)
