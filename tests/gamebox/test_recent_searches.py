"""`RecentSearches` keeps a catalogue page a moment, bounded by count and by characters."""

from __future__ import annotations

from wasmplug.gamebox.catalogue.recent_searches import RecentSearches


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_page_is_kept_for_its_moment_only() -> None:
    clock = Clock()
    recent: RecentSearches[str] = RecentSearches(1.0, clock=clock)
    recent.put(("x", 1), "page", 4)
    clock.now = 0.9
    assert recent.get(("x", 1)) == "page"
    clock.now = 1.0
    assert recent.get(("x", 1)) is None and len(recent) == 0 and recent.chars == 0


def test_pages_are_bounded_by_count_and_by_characters() -> None:
    recent: RecentSearches[str] = RecentSearches(60.0, entries=3, max_chars=100)
    for n in range(5):
        recent.put(n, f"page {n}", 5)
    assert len(recent) == 3 and recent.get(0) is None and recent.get(4) == "page 4"
    recent.put("big", "a page past a tenth of the whole", 11)
    assert recent.get("big") is None  # not kept at all
    for n in range(10, 20):
        recent.put(n, "page", 10)
    assert recent.chars <= 100 and len(recent) <= 3
    recent.clear()
    assert len(recent) == 0 and recent.chars == 0
