"""The sanitiser: what games need survives, nothing that runs or loads does."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wasmplug.gamebox import sanitize as sanitizer
from wasmplug.gamebox.sanitize import (
    _cheap_references,
    _clean,
    _sanitize,
    css_is_safe,
    sanitize,
    sanitize_timed,
    scope_stylesheet,
)


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
    assert sanitize("<style>.cell { color: red }</style>") == "<style>#board .cell{color: red}</style>"
    # a game cannot close the scope to style the platform
    assert "body" not in sanitize("<style>} body { display: none } .x {</style>")


@pytest.mark.parametrize("style", [
    '<style class="x">', '<style title="t">', '<STYLE  media="all">', '<style aria-label="a>b">',
    '<style\nclass=x>',
])
def test_every_style_element_is_scoped_whatever_its_attributes(style: str) -> None:
    out = sanitize(f"{style}header {{ display: none }} body {{ background: red }}</style><p>x</p>")
    assert out == "<style>#board header{display: none}#board body{background: red}</style><p>x</p>"


@pytest.mark.parametrize("css", [
    "/* } */ body { display: none }",
    "/* { */ .a { color: red } /* } */ } body { display: none }",
    '.a { content: "}" } body { display: none }',
    ".a { content: '{' } } body { display: none } .b {",
    ".a { color: red; } } } header { display: none }",
])
def test_braces_in_comments_and_strings_do_not_end_the_scope(css: str) -> None:
    out = scope_stylesheet(css)
    assert out and _selectors(out) and all(s.startswith("#board ") for s in _selectors(out)), out


def _selectors(css: str) -> list[str]:
    """Every selector of every rule of `css`, read by a browser-grade tokenizer."""
    import tinycss2

    found = []
    for rule in tinycss2.parse_stylesheet(css, skip_whitespace=True, skip_comments=True):
        assert rule.type == "qualified-rule", rule
        found += [part.strip() for part in tinycss2.serialize(rule.prelude).split(",")]
    return found


def test_every_selector_of_a_list_is_scoped_and_escapes_are_dropped() -> None:
    assert scope_stylesheet(".a, b > c, > .d, [hidden], *:hover{color: red}") == (
        "#board .a, #board b > c, #board > .d, #board [hidden], #board *:hover{color: red}")
    # a rule that could reach the board's siblings (or the page, with nesting's &) goes
    for escape in ("+ header { display: none }", "~ * { display: none }", "& body { color: red }",
                   ".a, ~ header { display: none }", "|| x { color: red }", ".a } body { color: red }",
                   ".a ; body { color: red }"):
        assert scope_stylesheet(escape) == "", escape
    # rules nested in a rule are dropped, its declarations kept
    assert scope_stylesheet(".a { color: blue; .b { color: red } }") == "#board .a{color: blue}"


def test_at_rules_other_than_media_supports_keyframes_are_dropped() -> None:
    css = ("@media (max-width: 400px) { .a { position: fixed } } @supports (display: grid) { b { x: 1 } }"
           "@property --x { syntax: '*'; inherits: true } @layer base { body { x: 1 } } @page { margin: 0 }"
           "@keyframes spin { from { opacity: 0 } to { opacity: 1 } }"
           "@container (width > 1px) { body { x: 1 } }")
    assert scope_stylesheet(css) == (
        "@media (max-width: 400px){#board .a{position: absolute}}@supports (display: grid){#board b{x: 1}}"
        "@keyframes spin{ from { opacity: 0 } to { opacity: 1 } }")


def test_fixed_positioning_stays_in_the_board_and_label_for_goes() -> None:
    out = sanitize('<label for="lobby" style="position:fixed;inset:0;z-index:9">x</label>'
                   '<a href="https://x.example/" style="POSITION: Fixed !important; inset: 0">y</a>'
                   "<style>.o { position: fixed; top: 0 }</style>")
    assert "for=" not in out and "fixed" not in out.lower()
    assert '<label style="position: absolute; inset: 0; z-index: 9">x</label>' in out
    assert 'style="POSITION: absolute !important; inset: 0"' in out
    assert "#board .o{position: absolute; top: 0}" in out
    # styles that position nothing are kept as written
    kept = '<div style="color: red;padding:0">x</div>'
    assert sanitize(kept) == kept


def test_a_quote_in_an_inline_style_stays_in_its_attribute() -> None:
    out = sanitize("""<div style='position: absolute; content: "x\" onclick=&quot;y"'>z</div>""")
    assert "onclick" not in out.replace("&quot;", "") or 'onclick=' not in out.split('"')[0::2][0]
    assert out.count('"') % 2 == 0


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
    assert _sanitize(html) == _clean(html)


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


# -- CPU and memory ----------------------------------------------------------------------
def test_a_deeply_nested_render_is_refused_before_it_is_parsed(monkeypatch: pytest.MonkeyPatch) -> None:
    """A 256 KiB render of nested <div> (seconds in the HTML parser) never reaches it."""
    monkeypatch.setattr(sanitizer, "_cleaner", lambda: pytest.fail("the parser was called"))
    sanitizer.CACHE.clear()
    deep = ("<div>" * 60_000)[:256 * 1024]
    assert len(deep) == 256 * 1024
    assert sanitize(deep) == sanitizer.refusal(f"its elements nest deeper than {sanitizer.MAX_DEPTH} levels")
    # comments, or the text of a textarea, cannot hide end tags from the count
    for hider in ("<div><!--</div>-->", "<div><textarea></div></textarea>"):
        assert "gb-refused" in sanitize(hider * (sanitizer.MAX_DEPTH + 1))
    too_many = "<br>" * (sanitizer.MAX_ELEMENTS + 1)
    assert "more than 4096 elements" in sanitize(too_many)
    kinds = "".join(f'<b class="c{i}">' for i in range(sanitizer.MAX_FORMATTING_KINDS + 1))
    assert "kinds of formatting tags" in sanitize(f"<div>{kinds}</div>" + "<p>x</p>" * 100)


def test_big_boards_of_ordinary_shape_are_kept() -> None:
    board = "<table>" + "<tr>" + '<td class="c"><b class="p">x</b></td>' * 40 + "</tr>" * 25 + "</table>"
    assert sanitize(board) == _clean(board)
    nested = "<div>" * sanitizer.MAX_DEPTH + "x" + "</div>" * sanitizer.MAX_DEPTH
    assert sanitize(nested) == nested


def test_the_cache_stays_within_its_size() -> None:
    """150 renders of 256 KiB (~580 MB kept by the old lru_cache of 4,096 entries) stay in 32 MiB."""
    sanitizer.CACHE.clear()
    for i in range(150):
        sanitize(f"<p>{i}</p>" + "<i>z</i>" * 30_000)
    assert 0 < sanitizer.CACHE.chars <= sanitizer.CACHE.max_chars
    assert len(sanitizer.CACHE) < 150


def test_sanitize_timed_reports_the_cpu_time_of_a_miss_and_nothing_for_a_hit() -> None:
    sanitizer.CACHE.clear()
    board = "<ul>" + "<li>entry &quot;x&quot;</li>" * 3000 + "</ul>"
    html, spent = sanitize_timed(board)
    assert html == sanitize(board) and spent > 0
    assert sanitize_timed(board) == (html, 0.0)


@pytest.mark.parametrize("attack", [
    # distinct formatting elements (the parser re-opens each in every block), their kinds hidden
    # from a naive count by a ">" or "<" in a quoted attribute
    "<div>" + "".join(f'<b title=">" class="c{i}">' for i in range(120)) + "</div>" + "<p>x</p>" * 3800,
    "".join(f'<div><b title="<" class="c{i}"></div>' for i in range(120)) + "<p>x</p>" * 3800,
    # few kinds, many copies, closed by the block around them (an end tag, or a block closing a <p>)
    "<div>" + "".join(f'<b class="c{i % 16}">' for i in range(48)) + "</div>" + "<p>x</p>" * 3800,
    "<p>" + "".join(f'<i class="c{i % 16}">' for i in range(48)) + "<div>x</div>" * 3800,
    # end tags hidden in attribute values and bogus comments do not count as closing
    '<div title="</div>"><!x </div>>' * 200,
])
def test_renders_the_parser_would_multiply_are_refused_unparsed(
        attack: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sanitizer, "_cleaner", lambda: pytest.fail("the parser was called"))
    assert "gb-refused" in sanitizer._sanitize(attack)


def test_well_formed_boards_with_many_formatting_tags_are_kept() -> None:
    board = "<ul>" + "<li><b class='n'>ann</b> played <code>4</code> <i>now</i></li>" * 900 + "</ul>"
    assert sanitizer._sanitize(board) == _clean(board)
