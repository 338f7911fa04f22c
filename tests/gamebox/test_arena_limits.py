"""Arenas under attack, with real HTTP and WebSocket clients on loopback: caps on arenas,
members, pending messages, assigns and games' memory; seats bound to tokens; code guessing."""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed

from wasmplug.gamebox.app import SiteSettings, create_app
from wasmplug.gamebox.arenas.state import (
    CODE_LENGTH,
    CONSONANTS,
    MAX_MEMBER_ASSIGNS_BYTES,
    MAX_MEMBER_ASSIGNS_KEYS,
    MAX_MEMBERS,
    Arena,
    Arenas,
    AssignsTooLarge,
)
from wasmplug.gamebox.errors import ArenaError

from .conftest import live_server, test_catalogue
from .loopback import Visitor, poll, send, until
from .test_abuse_cuts import post_head_only

pytestmark = pytest.mark.timeout(120)


def rss_kb() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def test_arena_spam_from_one_address_is_refused_past_its_cap() -> None:
    # the cap on arenas alone: the costly routes' rate (5 a second, test_abuse_cuts.py) set aside
    unlimited = SiteSettings(costly_rate=1000.0, costly_burst=1000)
    with live_server(create_app(test_catalogue(), site_settings=unlimited)) as url:
        spammer = Visitor(url, address="203.0.113.7")
        token = spammer.csrf()
        outcomes = [spammer.http.post("/arenas", data={"name": "spam", "csrf": token}) for _ in range(66)]
        created = [r for r in outcomes if r.status_code == 303]
        refused = [r for r in outcomes if r.status_code == 400]
        assert len(created) == 5 and len(refused) == 61
        assert all("you have 5 arenas open already" in r.text for r in refused)
        assert Visitor(url, address="198.51.100.1").create("ann")  # someone else still can


def test_arena_spam_past_its_cap_is_refused_before_the_form_and_starts_no_game() -> None:
    """A new arena starts no game (its game is instantiated when the host picks one), and past
    the owner's cap a new arena is refused before its form is read or its CSRF token checked."""
    unlimited = SiteSettings(costly_rate=1000.0, costly_burst=1000)
    app = create_app(test_catalogue(), arenas=Arenas(max_per_owner=2), site_settings=unlimited)
    with live_server(app) as url:
        spammer = Visitor(url, address="203.0.113.8")
        codes = [spammer.create(f"spam{n}") for n in range(2)]
        assert app.state.engine.sessions == {} and app.state.engine.stopping == {}  # no game yet
        answer = post_head_only(url, "/arenas", "203.0.113.8")
        assert answer.startswith(b"HTTP/1.1 400") and b"you have 2 arenas open already" in answer
        forged = spammer.http.post("/arenas", data={"name": "spam", "csrf": "forged"})
        assert forged.status_code == 400  # not 403: the form was never read
        assert sorted(app.state.engine.arenas.arenas) == sorted(codes)


def test_the_server_holds_at_most_max_arenas() -> None:
    with live_server(create_app(test_catalogue(), arenas=Arenas(max_arenas=3))) as url:
        for n in range(3):
            Visitor(url, address=f"192.0.2.{n}").create("ann")
        late = Visitor(url, address="192.0.2.99")
        refused = late.http.post("/arenas", data={"name": "ann", "csrf": late.csrf()})
        assert refused.status_code == 400
        assert "the server has as many arenas as it can hold" in refused.text


def test_an_arena_holds_at_most_max_members() -> None:
    arena = Arena("BCDFGH")
    for n in range(MAX_MEMBERS):
        arena.join(f"m{n}")
    with pytest.raises(ArenaError, match=rf"is full \({MAX_MEMBERS} members\)"):
        arena.join("late")


def test_a_members_assigns_are_capped_by_keys_and_bytes() -> None:
    arena = Arena("BCDFGH")
    arena.join("ann")
    arena.merge_assigns("ann", {"version": 1, **{f"k{n}": n for n in range(MAX_MEMBER_ASSIGNS_KEYS)}})
    with pytest.raises(AssignsTooLarge, match=f"at most {MAX_MEMBER_ASSIGNS_KEYS} keys"):
        arena.merge_assigns("ann", {"version": 2, "one_more": 1})
    arena.join("bob")
    chunk = "x" * (MAX_MEMBER_ASSIGNS_BYTES // 4)
    for n in range(3):
        arena.merge_assigns("bob", {"version": 3, f"big{n}": chunk})
    with pytest.raises(AssignsTooLarge, match=f"at most {MAX_MEMBER_ASSIGNS_BYTES} bytes"):
        arena.merge_assigns("bob", {"version": 4, "big3": chunk})
    assert len(json.dumps(arena.members["bob"].assigns)) <= MAX_MEMBER_ASSIGNS_BYTES


def test_a_member_who_floods_bad_messages_and_never_reads_is_disconnected() -> None:
    app = create_app(test_catalogue())
    with live_server(app) as url:
        ann = Visitor(url)
        code = ann.create("ann")
        before = rss_kb()
        sent = 0
        bad = json.dumps({"t": "action", "name": "x" * 60})  # each answered by a flash
        # (the client buffers 16 messages, then stops reading)
        with ann.socket(code) as ws, pytest.raises(ConnectionClosed):
            for sent in range(1, 200_001):  # noqa: B007  (counted for the assertion below)
                ws.send(bad)
        assert sent < 200_000
        box = app.state.engine
        poll(lambda: not box.viewers.get(code, {}).get("ann"), what="the flooder's viewer to go")
        assert rss_kb() - before < 100 * 1024


def play_tictactoe(url: str) -> tuple[Visitor, Visitor, str, Any, Any]:
    ann, bob = Visitor(url), Visitor(url)
    code = ann.create("ann")
    assert bob.join(code, "bob").status_code == 303
    ann_ws, bob_ws = ann.socket(code), bob.socket(code)
    send(ann_ws, {"t": "action", "name": "select", "game": "tictactoe"})
    until(ann_ws, "arena", 'id="start"')
    send(ann_ws, {"t": "action", "name": "start"})
    until(ann_ws, "board", "Your turn (X)")
    until(bob_ws, "board", "Waiting for ann")
    return ann, bob, code, ann_ws, bob_ws


def test_a_newcomer_with_a_leavers_name_does_not_take_the_seat() -> None:
    app = create_app(test_catalogue(), arenas=Arenas(leave_after=60))
    with live_server(app) as url:
        _, _, code, ann_ws, bob_ws = play_tictactoe(url)
        with ann_ws:
            send(bob_ws, {"t": "action", "name": "leave"})
            until(bob_ws, "redirect")
            bob_ws.close()
            impostor = Visitor(url, address="198.51.100.9")
            assert impostor.join(code, "bob").status_code == 303
            send(ann_ws, {"t": "event", "name": "cell-clicked", "value": {"cell": "4", "value": ""}})
            until(ann_ws, "board", "Waiting for bob")
            with impostor.socket(code) as ws:
                arena_part = until(ws, "arena")
                assert 'id="you-spectator"' in arena_part["html"]
                send(ws, {"t": "event", "name": "cell-clicked", "value": {"cell": "0", "value": ""}})
                assert "You are watching this game" in until(ws, "flash")["text"]
            arena = app.state.engine.arenas.get(code)
            assert arena.role("bob") == "spectator" and not arena.seated("bob")


def test_closing_a_tab_shows_the_member_away_at_once() -> None:
    with live_server(create_app(test_catalogue(), arenas=Arenas(leave_after=60))) as url:
        ann, bob = Visitor(url), Visitor(url)
        code = ann.create("ann")
        bob.join(code, "bob")
        with ann.socket(code) as ann_ws:
            with bob.socket(code) as bob_ws:
                until(ann_ws, "arena", '<li class="member" data-name="bob">')
                until(bob_ws, "arena")
            # bob's tab is closed: ann hears of it now, not after the 60 s away sweep
            until(ann_ws, "arena", '<li class="member away" data-name="bob">', timeout=10)


def test_two_hundred_guesses_find_no_arena() -> None:
    with live_server(create_app(test_catalogue())) as url:
        host = Visitor(url, address="198.51.100.20")
        real = {host.create("ann") for _ in range(3)}
        guesser = Visitor(url, address="203.0.113.66")
        statuses = []
        for _ in range(200):
            guess = "".join(secrets.choice(CONSONANTS) for _ in range(CODE_LENGTH))
            statuses.append(guesser.join(guess, "eve").status_code)
        assert 303 not in statuses
        assert statuses.count(400) == 10 and statuses.count(429) == 190
        for code in real:  # even the right code is refused for now, and does not say it exists
            assert guesser.join(code, "eve").status_code == 429
            assert guesser.http.get(f"/arena/{code}").status_code == 429
        assert Visitor(url, address="192.0.2.50").join(next(iter(real)), "cy").status_code == 303


def test_the_arena_forms_need_a_csrf_token_without_accounts_too() -> None:
    with live_server(create_app(test_catalogue())) as url:  # plain mode: no --data-dir
        visitor = Visitor(url)
        assert 'name="csrf" value="' in visitor.http.get("/").text
        for path, form in (("/arenas", {"name": "ann"}), ("/join", {"code": "BCDFGH", "name": "bob"})):
            for csrf in ({}, {"csrf": "forged"}):
                refused = visitor.http.post(path, data={**form, **csrf})
                assert refused.status_code == 403, (path, csrf)
        assert visitor.create("ann")  # with the session's token


def test_an_arena_that_does_not_exist_says_so() -> None:
    with live_server(create_app(test_catalogue())) as url:
        page = Visitor(url).http.get("/arena/QQQQQQ")
        assert page.status_code == 404
        assert "there is no arena &#39;QQQQQQ&#39;: check the code, or create a new arena" in page.text
        assert "Join arena" not in page.text


def test_running_games_share_a_memory_budget() -> None:
    app = create_app(test_catalogue())
    app.state.engine.game_memory_mb = 2 * 64  # two games of 64 MiB
    with live_server(app) as url:
        sockets = []
        try:
            for n in range(3):
                visitor = Visitor(url, address=f"192.0.2.{n}")
                code = visitor.create(f"host{n}")
                ws = visitor.socket(code)
                sockets.append(ws)
                send(ws, {"t": "action", "name": "select", "game": "tictactoe"})
                if n < 2:
                    until(ws, "arena", 'id="picked"')
            refused = until(sockets[2], "flash")
            assert "The server is running as many games as its memory allows" in refused["text"]
            send(sockets[0], {"t": "action", "name": "lobby"})  # one game stops: room again
            until(sockets[0], "arena", 'id="games"')
            poll(lambda: not app.state.engine.stopping or not any(t.is_alive() for t in
                                                                   app.state.engine.stopping),
                 what="the stopped game's thread to end")
            send(sockets[2], {"t": "action", "name": "select", "game": "tictactoe"})
            until(sockets[2], "arena", 'id="picked"')
        finally:
            for ws in sockets:
                ws.close()


def test_spectators_share_one_render_per_event() -> None:
    app = create_app(test_catalogue(), arenas=Arenas(leave_after=60))
    with live_server(app) as url:
        _, _, code, ann_ws, bob_ws = play_tictactoe(url)
        watchers = []
        for n in range(4):
            visitor = Visitor(url, address=f"198.51.100.{n + 30}")
            assert visitor.join(code, f"watcher{n}").status_code == 303
            ws = visitor.socket(code)
            until(ws, "board", "cell-clicked")
            watchers.append(ws)
        try:
            server = app.state.engine.sessions[code].server
            before = server.calls
            send(ann_ws, {"t": "event", "name": "cell-clicked", "value": {"cell": "4", "value": ""}})
            boards = [until(ws, "board", 'phx-value-cell="4">X</button>') for ws in watchers]
            until(bob_ws, "board", "Your turn (O)")
            assert len({board["html"] for board in boards}) == 1  # every spectator sees the same
            # handle_event, a render for ann, one for bob, one for all four spectators
            assert server.calls - before == 4
        finally:
            for ws in [ann_ws, bob_ws, *watchers]:
                ws.close()


def test_sanitising_a_render_counts_against_the_games_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """HTML that takes the sanitiser longer than the game's time limit per call fails the game
    (the sanitiser is made slow here: a stand-in for a render built to be costly to clean)."""
    import time

    from wasmplug.gamebox.arenas import engine
    from wasmplug.gamebox.sanitize import sanitize

    def slow(html: str) -> str:
        busy_until = time.thread_time() + 0.5  # CPU the sanitising costs: that is what counts
        while time.thread_time() < busy_until:
            pass
        return sanitize(html)

    monkeypatch.setattr(engine, "sanitize", slow)
    with live_server(create_app(test_catalogue(timeout_ms=300))) as url:
        ann, bob = Visitor(url), Visitor(url)
        code = ann.create("ann")
        bob.join(code, "bob")
        with ann.socket(code) as ws:
            send(ws, {"t": "action", "name": "select", "game": "tictactoe"})
            until(ws, "arena", 'id="start"')
            send(ws, {"t": "action", "name": "start"})
            failed = until(ws, "arena", "failed in render")
            assert "sanitising its HTML took" in failed["html"]
            assert "longer than its 0.3 s time limit" in failed["html"]
