"""A join costs O(members), not O(members²): the others get only the member that changed
(and their small head and controls), the one joining the whole list; the browser's list
stays right through joins, leaves and closed tabs."""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

import pytest

from wasmplug.gamebox.arenas.engine import ArenaEngine, Viewer, default_templates
from wasmplug.gamebox.arenas.state import Arena, Member

from .conftest import test_catalogue
from .test_browser import create_arena, join_arena, people, server  # noqa: F401 (fixtures)

pytestmark = pytest.mark.timeout(120)


class Inbox:
    """A viewer's socket as the engine sees it: what was sent to it, in order."""

    def __init__(self) -> None:
        self.messages: list[str] = []

    async def send(self, text: str) -> None:
        self.messages.append(text)

    def bytes(self) -> int:
        return sum(len(text.encode()) for text in self.messages)

    def arena(self) -> list[dict[str, Any]]:
        return [m for m in map(json.loads, self.messages) if m["t"] == "arena"]

    def sees_present(self, name: str) -> bool:
        """Whether, after all it was sent, `name` is in the list and not away."""
        item = ""
        for message in self.arena():
            if "html" in message:
                found = re.search(f'<li[^>]*data-name="{name}".*?</li>', message["html"], re.S)
                item = found.group(0) if found else ""
            item = dict(message.get("members", {})).get(name, item)
        return bool(item) and "away" not in item


async def settled(condition: Any, what: str) -> None:
    """Let the viewers' writers run until `condition()` holds (bounded)."""
    for _ in range(10_000):
        if condition():
            return
        await asyncio.sleep(0)
    raise AssertionError(f"never: {what}")


async def connect(box: ArenaEngine, arena: Arena, member: Member) -> tuple[Inbox, asyncio.Task[None]]:
    inbox = Inbox()
    viewer = Viewer(member.name, inbox.send)
    writer = asyncio.get_running_loop().create_task(viewer.run())
    await box.connect(arena, member, viewer)
    return inbox, writer


async def bytes_per_join(members: int) -> tuple[float, int]:
    """Bytes each of `members` connected members receives when one more joins and connects,
    and the bytes the newcomer receives."""
    box = ArenaEngine(test_catalogue(), default_templates())
    arena, host = box.create_arena("m0")
    joined = [host] + [(await box.join(arena.code, f"m{n}"))[1] for n in range(1, members)]
    inboxes, writers = [], []
    for member in joined:
        inbox, writer = await connect(box, arena, member)
        inboxes.append(inbox)
        writers.append(writer)
    last = joined[-1].name
    await settled(lambda: all(inbox.sees_present(last) for inbox in inboxes),
                  "every member sees the last one present")
    before = [inbox.bytes() for inbox in inboxes]
    _, newcomer = await box.join(arena.code, "late")
    mine, writer = await connect(box, arena, newcomer)
    writers.append(writer)
    await settled(lambda: all(inbox.sees_present("late") for inbox in inboxes),
                  "everyone sees 'late' present")
    await settled(lambda: any("html" in m for m in mine.arena()), "the newcomer has the whole part")
    per_member = sum(inbox.bytes() - b for inbox, b in zip(inboxes, before, strict=True)) / members
    for writer in writers:
        writer.cancel()
    return per_member, mine.bytes()


def test_a_join_sends_each_member_the_same_few_bytes_whatever_the_arena_size() -> None:
    asyncio.run(_a_join_sends_each_member_the_same_few_bytes())


async def _a_join_sends_each_member_the_same_few_bytes() -> None:
    small, small_newcomer = await bytes_per_join(8)
    large, large_newcomer = await bytes_per_join(64)
    # Each existing member gets only what changed: the same few bytes at 8 members and at 64
    # (before: the whole list, 8 times larger at 64 members: O(M) each, O(M²) a join).
    assert large <= small * 1.1, (small, large)
    # The newcomer alone gets the whole list.
    assert large_newcomer > small_newcomer + 56 * 40


def test_changes_not_yet_sent_merge_and_the_whole_part_replaces_them() -> None:
    asyncio.run(_changes_merge())


async def _changes_merge() -> None:
    inbox = Inbox()
    viewer = Viewer("ann", inbox.send)
    viewer.post_arena_change("h1", "c1", {"bob": "<li>bob away</li>", "cy": "<li>cy</li>"})
    viewer.post_arena_change("h2", "c2", {"bob": "<li>bob</li>", "dan": "<li>dan</li>"})
    writer = asyncio.get_running_loop().create_task(viewer.run())
    await settled(lambda: inbox.messages, "the merged change is sent")
    [change] = map(json.loads, inbox.messages)
    assert change == {"t": "arena", "head": "h2", "controls": "c2",
                      "members": [["cy", "<li>cy</li>"], ["bob", "<li>bob</li>"], ["dan", "<li>dan</li>"]]}
    inbox.messages.clear()
    viewer.post_arena_change("h3", "c3", {"eve": "<li>eve</li>"})
    viewer.post("arena", json.dumps({"t": "arena", "html": "whole"}))  # has eve already
    await settled(lambda: inbox.messages, "the whole part is sent")
    await asyncio.sleep(0)
    assert [json.loads(m) for m in inbox.messages] == [{"t": "arena", "html": "whole"}]
    viewer.close()
    await writer


def member_items(page: Any) -> list[str]:
    return [" ".join(text.split()) for text in page.eval_on_selector_all(
        "#members li", "items => items.map(li => li.dataset.name + ' ' + li.textContent)")]


def test_the_member_list_stays_right_in_the_browser(server: tuple[str, Any],  # noqa: F811
                                                    people: Any) -> None:  # noqa: F811
    base, _ = server
    ann, bob, cy, dan = people(4)
    code = create_arena(ann, base, "ann")
    for page, name in ((bob, "bob"), (cy, "cy"), (dan, "dan")):
        join_arena(page, base, code, name)
    ann.wait_for_selector("#members [data-name='dan']:not(.away)")
    ann.wait_for_selector("#members li.away", state="detached")
    assert member_items(ann) == ["ann ann host", "bob bob", "cy cy", "dan dan"]
    cy.click("[data-gb-action='leave']")  # leaves: gone from the others' lists
    ann.wait_for_selector("#members [data-name='cy']", state="detached")
    dan.close()  # a closed tab: away at once
    ann.wait_for_selector("#members [data-name='dan'].away")
    bob.wait_for_selector("#members [data-name='dan'].away")
    assert member_items(ann) == ["ann ann host", "bob bob", "dan dan away"]
    assert member_items(bob) == member_items(ann)
    ann.click("[data-gb-action='leave']")  # the host leaves: bob is host, in his own head too
    bob.wait_for_selector("#members [data-name='bob'] .host-badge")
    bob.wait_for_selector("#you-host")
    patched = member_items(bob)
    bob.reload()  # the list the server renders whole is the one the changes built
    bob.wait_for_selector("#status:has-text('live')")
    assert member_items(bob) == patched == ["bob bob host", "dan dan away"]
