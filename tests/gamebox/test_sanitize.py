"""The sanitiser: what games need survives, nothing that runs or loads does."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wasmplug.gamebox.sanitize import _cheap_references, _clean, css_is_safe, sanitize


def test_game_markup_survives() -> None:
    html = ('<div class="board"><button class="cell" phx-click="cell-clicked" phx-value-cell="3" '
            'style="color: red">X</button><table><tr><td colspan="2">a</td></tr></table>'
            '<input type="text" value="v" placeholder="p"><a href="https://example.org/x">link</a></div>')
    out = sanitize(html)
    for kept in ['phx-click="cell-clicked"', 'phx-value-cell="3"', 'class="cell"', 'style="color: red"',
                 'colspan="2"', 'type="text"', 'href="https://example.org/x"']:
        assert kept in out


@pytest.mark.parametrize("hostile", [
    "<script>alert(1)</script>",
    '<img src="x" onerror="alert(1)">',
    '<svg onload="alert(1)"><circle r="1"/></svg>',
    '<a href="javascript:alert(1)">x</a>',
    '<a href="data:text/html,<script>alert(1)</script>">x</a>',
    '<button onclick="alert(1)">x</button>',
    '<iframe src="http://evil.example/"></iframe>',
    '<object data="http://evil.example/"></object>',
    '<link rel="stylesheet" href="http://evil.example/x.css">',
    '<meta http-equiv="refresh" content="0;url=http://evil.example/">',
    '<form action="http://evil.example/"><button>go</button></form>',
    '<div style="background: url(http://evil.example/x.png)">x</div>',
    '<div style="background: u\\72l(http://evil.example/x.png)">x</div>',
    "<style>.a { background: url(http://evil.example/x.png) }</style>",
    "<style>@import 'http://evil.example/x.css';</style>",
    '<input type="image" src="http://evil.example/x.png">',
    '<base href="http://evil.example/">',
])
def test_hostile_markup_is_removed(hostile: str) -> None:
    out = sanitize(hostile).lower()
    for bad in ["<script", "onerror", "onload", "onclick", "javascript:", "data:", "<iframe", "<object",
                "<link", "<meta", "<form", "url(", "@import", "evil.example/x", "<svg", "<img", "<base",
                'type="image"']:
        assert bad not in out, (hostile, out)


def test_style_elements_are_scoped_to_the_board() -> None:
    assert sanitize("<style>.cell { color: red }</style>") == "<style>#board{.cell { color: red }}</style>"
    # a game cannot close the scope to style the platform
    assert sanitize("<style>} body { display: none } .x {</style>") == ""


def test_css_check() -> None:
    assert css_is_safe("color: red; padding: 1rem")
    for bad in ["background:url(x)", "BACKGROUND: URL (x)", "@import 'x'", "a\\72 b", "image-set('x' 1x)",
                "behavior: url(x.htc)", "x: expression(alert(1))"]:
        assert not css_is_safe(bad), bad


_PIECES = ["<p>", "</p>", "<b>", "</b>", '<span title="', '<a href="https://x.example/?a=1', '">',
           "<li>", "</li>", '<ol class="events">', '<button phx-click="go" disabled>', "<STYLE>",
           "<styles>", "<pre>\n", "<select><option>", "<script>", "<svg>", "</svg >", "<br/>", "<x y=z>",
           "<textarea>", "</textarea>", "<style>", "</style>", "<xmp>", "<plaintext>", "<svg><title>",
           "<table><tr><td>", "<!--", "-->", '"', "'", "=", " ", "x", ";", "&", "#34;", "amp",
           "&quot;", "&amp;", "&lt;", "&gt;", "&apos;", "&#39;", "&amp;quot;", "&quot", "&ampx;"]


@given(st.lists(st.sampled_from(_PIECES), max_size=40).map("".join))
@settings(max_examples=2000, deadline=None)
def test_rewriting_references_changes_nothing_in_the_output(html: str) -> None:
    """sanitize writes character references as characters (in text of plain tags) or
    as numbers (elsewhere) before nh3 parses them (much faster); the result is what nh3
    makes of the original."""
    assert sanitize.__wrapped__(html) == _clean(html)


def test_named_references_survive_as_their_characters() -> None:
    html = '<p title="a &quot;b&quot; &amp; &lt;c&gt;">{&quot;k&quot;: &apos;v&apos; &amp; 1 &lt; 2}</p>'
    assert sanitize(html) == '<p title="a &quot;b&quot; &amp; &lt;c&gt;">{"k": \'v\' &amp; 1 &lt; 2}</p>'


def test_references_in_the_text_of_plain_tags_become_characters() -> None:
    """The event-log board (escaped JSON in a list) reaches nh3 with no reference left."""
    entry = "<li>{&quot;player_id&quot;: &quot;ann&quot;, &quot;n&quot;: &#39;1 &gt; 0&#39;}</li>"
    board = f'<h1>Version: 2</h1><button phx-click="go" phx-value-cell="0">Go</button><ol>{entry * 3}</ol>'
    assert "&" not in _cheap_references(board)
    assert sanitize(board) == _clean(board)
    assert "<li>{\"player_id\": \"ann\", \"n\": '1 &gt; 0'}</li>" in sanitize(board)
    # An "&" in an attribute, or a raw-text element, and only the numeric rewrite is safe.
    for other in (board.replace('"go"', '"a&amp;b"'), board + "<textarea>&quot;</textarea>"):
        assert "&#34;" in _cheap_references(other)
        assert sanitize(other) == _clean(other)
