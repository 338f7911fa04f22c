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
from collections.abc import Callable

import nh3
from markdown_it import MarkdownIt

from .bounded_cache import BoundedCache

SUMMARY_CHARS = 160
SUMMARY_SOURCE_CHARS = 2_000



RENDERED = BoundedCache(entries=1024, max_chars=16 * 1024 * 1024)
SUMMARIES = BoundedCache(entries=4096, max_chars=4096 * (64 + SUMMARY_CHARS))


def render(markdown: str) -> str:
    """A description's Markdown as safe HTML (no raw HTML, no scripts, no javascript: links)."""
    rendered = MarkdownIt("commonmark", {"html": False}).render(markdown)
    return nh3.clean(rendered, url_schemes={"http", "https", "mailto"},
                     link_rel="nofollow noopener noreferrer")


def _key(markdown: str) -> str:
    return hashlib.sha256(markdown.encode("utf-8", "surrogatepass")).hexdigest()


def html(markdown: str) -> str:
    """The description as safe HTML, rendered once per distinct text."""
    return _kept(RENDERED, markdown, render)


def _kept(cache: BoundedCache, markdown: str, make: Callable[[str], str]) -> str:
    key = _key(markdown)
    found = cache.get(key)
    if found is None:
        found = make(markdown)
        cache.put(key, found)
    return found


def is_rendered(markdown: str) -> bool:
    """True if `html(markdown)` is a lookup (so a view can skip a worker thread)."""
    return RENDERED.get(_key(markdown)) is not None


def summary(markdown: str) -> str:
    """The description's first words as plain text, at most SUMMARY_CHARS characters."""
    return _kept(SUMMARIES, markdown, _summarise)


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
