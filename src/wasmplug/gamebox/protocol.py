"""The messages on a viewer's WebSocket (JSON text, one object per frame).

Browser -> server:
    {"t": "event", "name": "cell-clicked", "value": {"cell": "3", "value": ""}}
        a click on an element of the game with phx-click; value holds every
        phx-value-* attribute by its suffix, plus the element's value
    {"t": "action", "name": "select", "game": "tictactoe"}
        a platform action: select, start, restart, lobby, leave
Server -> browser:
    {"t": "arena", "html": "..."}      the platform part of the page, re-rendered whole
    {"t": "arena", "head": "...", "controls": "...", "members": [["bob", "<li ...>"], ["cy", ""]]}
                                       a change of it: its head and controls, and the members
                                       whose item changed (added at the end; "": gone)
    {"t": "board", "html": "...", "version": 3}   the game's sanitised HTML
    {"t": "flash", "text": "..."}      a refused request, for this viewer only
    {"t": "redirect", "url": "/"}      leave the page (after leaving the arena)
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from .errors import GameBoxError

MAX_MESSAGE_BYTES = 16 * 1024
MAX_VALUES = 32
MAX_VALUE_CHARS = 1000
MAX_NAME_CHARS = 64
ACTIONS = frozenset({"select", "start", "restart", "lobby", "leave"})


class ProtocolError(GameBoxError):
    """A message from a browser that does not follow the protocol."""


@dataclass(frozen=True)
class Event:
    name: str
    value: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Action:
    name: str
    game: str = ""


def parse_message(text: str | bytes) -> Event | Action:
    if len(text) > MAX_MESSAGE_BYTES:
        raise ProtocolError(f"message too large ({len(text)} bytes, at most {MAX_MESSAGE_BYTES})")
    try:
        data = json.loads(text)
    except ValueError:
        raise ProtocolError("message is not JSON") from None
    if not isinstance(data, dict):
        raise ProtocolError("message must be a JSON object")
    kind, name = data.get("t"), data.get("name")
    if not isinstance(name, str) or not 0 < len(name) <= MAX_NAME_CHARS:
        raise ProtocolError(f"message needs a name of 1 to {MAX_NAME_CHARS} characters")
    if kind == "event":
        value = data.get("value", {})
        if not isinstance(value, dict) or len(value) > MAX_VALUES:
            raise ProtocolError(f"an event's value must be an object of at most {MAX_VALUES} strings")
        for key, item in value.items():
            if not isinstance(item, str) or len(item) > MAX_VALUE_CHARS or len(key) > MAX_NAME_CHARS:
                raise ProtocolError(f"event value {key[:40]!r} must be a string of at most "
                                    f"{MAX_VALUE_CHARS} characters")
        return Event(name, dict(value))
    if kind == "action":
        if name not in ACTIONS:
            raise ProtocolError(f"unknown action {name!r} (one of: {', '.join(sorted(ACTIONS))})")
        game = data.get("game", "")
        if not isinstance(game, str) or len(game) > 200:
            raise ProtocolError("an action's game must be a game id")
        return Action(name, game)
    raise ProtocolError(f"unknown message type {kind!r}: expected 'event' or 'action'")


def game_event(player_id: str, event: Event) -> dict[str, Any]:
    """The input of the game's handle_event for `event` sent by `player_id`."""
    return {"player_id": player_id, "event_name": event.name, "value": event.value}


def arena_message(html: str) -> str:
    return json.dumps({"t": "arena", "html": html})


def arena_change_message(head: str, controls: str, members: dict[str, str]) -> str:
    return json.dumps({"t": "arena", "head": head, "controls": controls,
                       "members": [[name, item] for name, item in members.items()]})


def board_message(html: str, version: Any) -> str:
    return json.dumps({"t": "board", "html": html, "version": version})


def flash_message(text: str) -> str:
    return json.dumps({"t": "flash", "text": text[:1].upper() + text[1:]})


def redirect_message(url: str) -> str:
    return json.dumps({"t": "redirect", "url": url})
