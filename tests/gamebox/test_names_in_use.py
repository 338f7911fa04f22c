"""Look-alike and invisible names are refused where people choose them: arena display
names and usernames."""

from __future__ import annotations

from typing import Any

import pytest

from wasmplug.gamebox.arenas.state import Arena
from wasmplug.gamebox.errors import ArenaError, GameBoxError


@pytest.mark.parametrize("second", ["\u0430nn", "ANN", "\uff41\uff4e\uff4e", "a\u200bnn", "\u2800\u2800"])
def test_an_arena_refuses_a_name_that_looks_like_a_member_or_nothing(second: str) -> None:
    arena = Arena("KSQM")
    arena.join("ann")
    with pytest.raises(ArenaError, match="choose another"):
        arena.join(second)
    assert list(arena.members) == ["ann"]


def test_fullwidth_names_are_shown_normalised() -> None:
    arena = Arena("KSQM")
    assert arena.join("\uff42\uff4f\uff42").name == "bob"


def test_a_username_that_looks_like_a_taken_one_is_refused(library: Any) -> None:
    library.add_user("bill", "correct horse battery")
    for lookalike in ("b1ll", "BILL", "bIll"):
        with pytest.raises(GameBoxError, match="is taken"):
            library.add_user(lookalike, "correct horse battery")
    assert library.add_user("billy", "correct horse battery").username == "billy"
