"""A game's description: its Markdown rendered once, and a short plain summary for the picker.

Descriptions are Markdown of up to 20,000 characters. `html` renders one
(`render`: markdown-it with raw HTML off, then nh3) the
first time it is asked for, and keeps the result by the text's SHA-256 in a
cache bounded by entries and bytes, so a game's page costs a lookup, not a
render, per request; the site renders a description when it is uploaded or
edited. `summary` is what the arena's picker shows: the description's first
words as plain text (no Markdown marks), at most `SUMMARY_CHARS` characters,
read from the description's first `SUMMARY_SOURCE_CHARS` characters only.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict

import nh3
from markdown_it import MarkdownIt

SUMMARY_CHARS = 160
SUMMARY_SOURCE_CHARS = 2_000


class _Kept:
    """Strings by key, at most `entries` of them and `max_bytes` characters in all (thread-safe)."""

    def __init__(self, entries: int, max_bytes: int) -> None:
        self.entries = entries
        self.max_bytes = max_bytes
        self.bytes = 0
        self._items: OrderedDict[str, str] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> str | None:
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
            return found

    def put(self, key: str, value: str) -> None:
        with self._lock:
            if key not in self._items:
                self.bytes += len(value)
            else:
                self.bytes += len(value) - len(self._items[key])
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.entries or self.bytes > self.max_bytes:
                _, old = self._items.popitem(last=False)
                self.bytes -= len(old)

    def __len__(self) -> int:
        return len(self._items)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self.bytes = 0


RENDERED = _Kept(entries=1024, max_bytes=16 * 1024 * 1024)
SUMMARIES = _Kept(entries=4096, max_bytes=4096 * SUMMARY_CHARS)


def render(markdown: str) -> str:
    """A description's Markdown as safe HTML (no raw HTML, no scripts, no javascript: links)."""
    rendered = MarkdownIt("commonmark", {"html": False}).render(markdown)
    return nh3.clean(rendered, url_schemes={"http", "https", "mailto"},
                     link_rel="nofollow noopener noreferrer")


def _key(markdown: str) -> str:
    return hashlib.sha256(markdown.encode("utf-8", "surrogatepass")).hexdigest()


def html(markdown: str) -> str:
    """The description as safe HTML, rendered once per distinct text."""
    key = _key(markdown)
    found = RENDERED.get(key)
    if found is None:
        found = render(markdown)
        RENDERED.put(key, found)
    return found


def is_rendered(markdown: str) -> bool:
    """True if `html(markdown)` is a lookup (so a view can skip a worker thread)."""
    return RENDERED.get(_key(markdown)) is not None


def summary(markdown: str) -> str:
    """The description's first words as plain text, at most SUMMARY_CHARS characters."""
    key = _key(markdown)
    found = SUMMARIES.get(key)
    if found is None:
        found = _summarise(markdown)
        SUMMARIES.put(key, found)
    return found


def _summarise(markdown: str) -> str:
    words: list[str] = []
    for token in MarkdownIt("commonmark", {"html": False}).parse(markdown[:SUMMARY_SOURCE_CHARS]):
        if token.type == "inline":
            words += [child.content if child.type in ("text", "code_inline") else " "
                      for child in token.children or ()
                      if child.type in ("text", "code_inline", "softbreak", "hardbreak")]
            words.append(" ")
        elif token.type in ("fence", "code_block"):
            words.append(token.content + " ")
    text = " ".join("".join(words).split())
    if len(text) <= SUMMARY_CHARS:
        return text
    cut = text[: SUMMARY_CHARS - 1]
    return (cut.rsplit(" ", 1)[0] if " " in cut[SUMMARY_CHARS // 2:] else cut) + "…"
