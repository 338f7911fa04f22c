"""The arena state machine: members, host, phases, spectators, assigns, teardown."""

from __future__ import annotations

import re

import pytest

from wasmplug import Error
from wasmplug.gamebox.arenas.state import CONSONANTS, Arena, Arenas, Constraints, Phase
from wasmplug.gamebox.catalogue.base import GameInfo
from wasmplug.gamebox.errors import ArenaError

TTT = GameInfo("tictactoe", "Tic-tac-toe")


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def arena_with(*names: str) -> Arena:
    arena = Arena("BCDF")
    for name in names:
        arena.join(name)
    return arena


def test_codes_are_six_consonants_and_unique() -> None:
    arenas = Arenas()
    codes = {arenas.create().code for _ in range(300)}
    assert len(codes) == 300
    assert all(re.fullmatch(f"[{CONSONANTS}]{{6}}", code) for code in codes)
    code = next(iter(codes))
    assert arenas.get(code.lower()).code == code  # codes are read in any case


def test_unknown_code_is_a_clear_error() -> None:
    with pytest.raises(ArenaError, match="no arena 'ZZZZ'") as info:
        Arenas().get("zzzz")
    assert isinstance(info.value, Error)


@pytest.mark.parametrize("name", ["a", "x" * 13, "  b  ", "bell\x07", "rtl\u202eflip"])
def test_names_must_be_2_to_12_printable_characters(name: str) -> None:
    with pytest.raises(ArenaError, match="name"):
        Arena("BCDF").join(name)


def test_names_are_trimmed_and_unique_in_any_case() -> None:
    arena = arena_with("  Ann  ")
    assert list(arena.members) == ["Ann"]
    with pytest.raises(ArenaError, match="taken"):
        arena.join("ann")
    arena.join("Bob")
    assert list(arena.members) == ["Ann", "Bob"]


def test_creator_is_host_and_host_moves_to_the_next_member_on_leave() -> None:
    arena = arena_with("ann", "bob", "cy")
    assert arena.host == "ann"
    arena.leave("ann")
    assert arena.host == "bob"
    assert "bob is the host now" in arena.notice
    arena.leave("cy")
    assert arena.host == "bob"
    arena.leave("bob")
    assert arena.host is None and arena.empty_since is not None


def test_only_the_host_may_pick_start_and_go_to_the_lobby() -> None:
    arena = arena_with("ann", "bob")
    with pytest.raises(ArenaError, match="only the host"):
        arena.select("bob", TTT, Constraints(2, 2))
    arena.select("ann", TTT, Constraints(2, 2))
    with pytest.raises(ArenaError, match="only the host"):
        arena.start("bob")
    with pytest.raises(ArenaError, match="only the host"):
        arena.to_lobby("bob")
    assert arena.start("ann") == ["ann", "bob"]
    assert arena.phase == Phase.PLAYING


def test_start_needs_a_game_and_min_players() -> None:
    arena = arena_with("ann")
    with pytest.raises(ArenaError, match="pick a game"):
        arena.start("ann")
    arena.select("ann", TTT, Constraints(2, 2))
    assert not arena.can_start()
    with pytest.raises(ArenaError, match="at least 2"):
        arena.start("ann")
    arena.join("bob")
    assert arena.can_start()


def test_players_beyond_max_players_and_late_joiners_are_spectators() -> None:
    arena = arena_with("ann", "bob", "cy")
    arena.select("ann", TTT, Constraints(2, 2))
    assert arena.start("ann") == ["ann", "bob"]
    arena.join("dee")
    assert arena.spectators() == ["cy", "dee"]
    assert arena.viewer_assigns("cy")["spectator"] is True
    arena.check_event("bob")
    with pytest.raises(ArenaError, match="watching"):
        arena.check_event("cy")


def test_events_only_while_playing() -> None:
    arena = arena_with("ann", "bob")
    with pytest.raises(ArenaError, match="not running"):
        arena.check_event("ann")
    arena.select("ann", TTT, Constraints(2, 2))
    arena.start("ann")
    arena.fail("boom")
    assert arena.phase == Phase.FAILED and arena.notice == "boom"
    with pytest.raises(ArenaError, match="not running"):
        arena.check_event("ann")
    arena.start("ann")  # the host restarts
    arena.check_event("ann")


def test_assigns_merge_into_the_sender_but_never_over_platform_keys() -> None:
    arena = arena_with("ann", "bob")
    arena.select("ann", TTT, Constraints(2, 2))
    arena.start("ann")
    changed = arena.merge_assigns("ann", {"version": 1, "notice": "hi", "player_id": "evil",
                                          "spectator": True})
    assert changed
    assert arena.viewer_assigns("ann") == {"notice": "hi", "player_id": "ann", "version": 1,
                                           "spectator": False}
    assert arena.viewer_assigns("bob") == {"player_id": "bob", "version": 1, "spectator": False}
    assert not arena.merge_assigns("bob", {"version": 1, "notice": "not your turn"})
    assert arena.viewer_assigns("bob")["notice"] == "not your turn"


def test_the_render_plan_agrees_with_merging_and_reads_only_its_snapshot() -> None:
    arena = arena_with("ann", "bob", "cy", "dee")
    arena.select("ann", TTT, Constraints(2, 2))
    arena.start("ann")
    for name in ("ann", "bob", "cy"):  # dee is away: not re-rendered
        arena.connected(name)
    arena.merge_assigns("bob", {"version": 0, "notice": "bob's"})
    plan = arena.render_plan("ann")
    output = {"version": 1, "notice": "hi", "player_id": "evil", "spectator": True}
    arena.leave("cy")  # after the snapshot: the plan does not see it
    arena.members["bob"].assigns["notice"] = "changed later"
    views = plan(output)
    assert views == [
        ("ann", {"notice": "hi", "player_id": "ann", "version": 1, "spectator": False}),
        ("bob", {"notice": "bob's", "player_id": "bob", "version": 1, "spectator": False}),
        ("cy", {"player_id": "", "version": 1, "spectator": True}),  # spectators share a render
    ]
    # Merging the same output gives the sender what the plan rendered.
    arena.merge_assigns("ann", output)
    assert arena.viewer_assigns("ann") == views[0][1]
    # The version did not change: only the sender is re-rendered.
    assert arena.render_plan("bob")({"version": 1, "notice": "not your turn"}) == [
        ("bob", {"notice": "not your turn", "player_id": "bob", "version": 1, "spectator": False})]


def test_away_members_leave_and_empty_arenas_are_torn_down_after_grace() -> None:
    clock = Clock()
    arenas = Arenas(leave_after=5, teardown_after=10, clock=clock)
    arena = arenas.create()
    arena.join("ann")
    arena.join("bob")
    arena.connected("ann")
    arena.connected("bob")
    arena.disconnected("ann")  # the host closes the tab
    clock.now += 4
    assert arenas.sweep() == ([], [])
    arena.connected("ann")  # ...and comes back in time (a reload)
    clock.now += 10
    assert arenas.sweep() == ([], [])
    assert arena.host == "ann"
    arena.disconnected("ann")
    clock.now += 5
    assert arenas.sweep() == ([arena], [])
    assert arena.host == "bob" and list(arena.members) == ["bob"]
    arena.disconnected("bob")
    clock.now += 5
    assert arenas.sweep() == ([arena], [])  # bob left: empty now
    clock.now += 9
    assert arenas.sweep() == ([], [])
    arena.join("cy")  # someone joins during the grace period: the arena stays
    clock.now += 1
    assert arenas.sweep() == ([], [])
    arena.leave("cy")
    clock.now += 10
    assert arenas.sweep() == ([], [arena])
    with pytest.raises(ArenaError):
        arenas.get(arena.code)


def test_a_member_is_found_by_token_only() -> None:
    arenas = Arenas()
    arena = arenas.create()
    member = arena.join("ann")
    assert arenas.by_token(arena.code.lower(), member.token) == (arena, member)
    assert arenas.by_token(arena.code, "forged") is None
    assert arenas.by_token(arena.code, None) is None
