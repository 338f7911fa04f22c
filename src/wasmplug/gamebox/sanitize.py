"""Making a game's HTML safe to put in the page (the first of two walls; the
page's Content-Security-Policy is the second).

`sanitize` keeps an allow-list of tags and attributes (what games need to
draw a board and send `phx-click` events), drops scripts, event handlers,
forms, frames, images, SVG, `label for` and every URL but http(s) links, and
reads the CSS (inline `style` and every `<style>` element, whatever its
attributes) with a real CSS tokenizer (`tinycss2`): anything that could load
a resource refuses it, every rule is rescoped under the board
(`#board <selector>`), at-rules other than `@media`, `@supports` and
`@keyframes` are dropped, and `position: fixed` becomes `absolute` (the
board is a containing block that clips: see `static/gamebox.css`).

Before the HTML parser sees a render, `check_shape` counts its tags and
estimates their nesting in one linear pass: a render with more than
`MAX_ELEMENTS` elements, nested deeper than `MAX_DEPTH`, or with more than
`MAX_FORMATTING_KINDS` kinds of formatting tags (which the HTML parser
re-opens for every block) is not parsed but shown as a short notice (so is
one that grows past `MAX_OUTPUT` when parsed). The
results are kept in a cache bounded by entries and by bytes.
`sanitize_timed` says how long a render took to sanitise (0 for a cache hit),
so callers can count it against the game's time.
"""

from __future__ import annotations

import functools
import html as html_text
import re
import time

import nh3
import tinycss2  # type: ignore[import-untyped]
from tinycss2 import ast as css_ast

from .bounded_cache import BoundedCache

TAGS = frozenset({
    "a", "abbr", "article", "aside", "b", "blockquote", "br", "button", "caption", "code",
    "col", "colgroup", "dd", "del", "details", "div", "dl", "dt", "em", "figcaption", "figure",
    "footer", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "i", "input", "ins", "kbd",
    "label", "li", "main", "mark", "meter", "nav", "ol", "option", "p", "pre", "progress", "q",
    "s", "section", "select", "small", "span", "strong", "style", "sub", "summary", "sup",
    "table", "tbody", "td", "textarea", "tfoot", "th", "thead", "time", "tr", "u", "ul",
})
# Removed with everything inside them (the rest of the disallowed tags keep their text).
DROP_WITH_CONTENT = frozenset({"script", "template", "iframe", "object", "embed", "svg", "math",
                               "noscript", "title", "xmp", "noembed", "noframes", "plaintext"})
ATTRIBUTES = {
    "*": {"class", "title", "style", "phx-click", "role", "hidden", "lang", "dir"},
    "a": {"href"},
    "td": {"colspan", "rowspan"},
    "th": {"colspan", "rowspan", "scope"},
    "button": {"disabled", "value", "name"},
    "input": {"value", "placeholder", "disabled", "maxlength", "min", "max", "step", "checked",
              "name", "readonly", "size"},
    "option": {"value", "selected", "disabled"},
    "select": {"disabled", "name"},
    "textarea": {"placeholder", "rows", "cols", "disabled", "maxlength", "name", "readonly"},
    "progress": {"value", "max"},
    "meter": {"value", "min", "max", "low", "high", "optimum"},
    "ol": {"start", "reversed"},
    "details": {"open"},
    "time": {"datetime"},
}
ATTRIBUTE_VALUES = {"input": {"type": {"text", "number", "checkbox", "radio", "range"}}}
ATTRIBUTE_PREFIXES = {"phx-value-", "aria-"}
URL_SCHEMES = {"http", "https"}

# CSS that could load something or hide a function name behind an escape: these words anywhere
# (in lower case), or one of these functions (whatever the spaces before its parenthesis).
_CSS_DANGER_WORDS = ("\\", "<", "&", "@import", "@font-face", "@namespace", "expression", "-moz-binding",
                     "behavior", "javascript:", "image-set", "cross-fade")
_CSS_DANGER_FUNCTIONS = ("url", "image", "element", "src")
# In nh3's output "<" and ">" are escaped everywhere but in tags and in <style>'s text, and every
# attribute value is quoted with " (a " inside is &quot;): these patterns read it exactly.
_STYLE_ELEMENT = re.compile(r"<style(?:\s[^>]*)?>(.*?)</style>", re.DOTALL)
_START_TAG = re.compile(r"<[a-z][^>]*>")
_ATTRIBUTE = re.compile(r' ([^\s="]+)="([^"]*)"')
_STYLE_VALUE = re.compile(r' style="([^"]*)"')  # may also match text: only says whether to look closer
BOARD_SELECTOR = "#board"
# At-rules whose rules are rescoped like the sheet's own; @keyframes is kept as it is (its
# blocks are declarations only); every other at-rule (@import, @font-face, @property,
# @layer, @page, @container...) is dropped.
_GROUPING_AT_RULES = frozenset({"media", "supports"})
_KEYFRAMES = frozenset({"keyframes", "-webkit-keyframes"})
# What a scoped selector may start with: a type, #id, .class, *, :pseudo, [attribute] or ">".
# A leading "+" or "~" would reach the board's siblings, "&" the page itself.
_SELECTOR_STARTS = frozenset({".", "*", ":", ">"})


def css_is_safe(css: str) -> bool:
    """True if `css` cannot load a resource (no url(), @import, escapes...)."""
    lowered = css.lower()
    if any(word in lowered for word in _CSS_DANGER_WORDS):
        return False
    return not any(before.rstrip().endswith(_CSS_DANGER_FUNCTIONS) for before in lowered.split("(")[:-1])


def _declarations(tokens: list[css_ast.Node] | str) -> str:
    """The declarations of a block as text, with `position: fixed` made `absolute` (kept in the
    board); nested rules and at-rules in a block are dropped."""
    kept = []
    for item in tinycss2.parse_blocks_contents(tokens, skip_whitespace=True, skip_comments=True):
        if not isinstance(item, css_ast.Declaration):
            continue
        value = item.value
        if item.lower_name == "position":
            value = [css_ast.IdentToken(token.source_line, token.source_column, "absolute")
                     if isinstance(token, css_ast.IdentToken) and token.lower_value == "fixed"
                     else token for token in value]
        text = tinycss2.serialize(value).strip()
        kept.append(f"{item.name}: {text}{' !important' if item.important else ''}")
    return "; ".join(kept)


def _scoped_selectors(prelude: list[css_ast.Node]) -> str | None:
    """`a, b > c` as `#board a, #board b > c`; None if a selector could reach outside the board."""
    selectors: list[list[css_ast.Node]] = [[]]
    for token in prelude:
        if isinstance(token, css_ast.LiteralToken) and token.value == ",":
            selectors.append([])
        elif not isinstance(token, css_ast.Comment):
            selectors[-1].append(token)
    scoped = []
    for selector in selectors:
        text = tinycss2.serialize(selector).strip()
        significant = [t for t in selector if not isinstance(t, css_ast.WhitespaceToken)]
        if not significant or "&" in text or any(
                isinstance(t, (css_ast.CurlyBracketsBlock, css_ast.ParseError))
                or (isinstance(t, css_ast.LiteralToken) and t.value in "{};") for t in significant):
            return None
        first = significant[0]
        if not (isinstance(first, (css_ast.IdentToken, css_ast.HashToken, css_ast.SquareBracketsBlock))
                or (isinstance(first, css_ast.LiteralToken) and first.value in _SELECTOR_STARTS)):
            return None
        scoped.append(f"{BOARD_SELECTOR} {text}")
    return ", ".join(scoped)


def _scope_rules(rules: list[css_ast.Node]) -> str:
    out = []
    for rule in rules:
        if isinstance(rule, css_ast.QualifiedRule):
            selectors = _scoped_selectors(rule.prelude)
            if selectors is not None:
                out.append(f"{selectors}{{{_declarations(rule.content)}}}")
        elif isinstance(rule, css_ast.AtRule) and rule.content is not None:
            prelude = tinycss2.serialize(rule.prelude).strip()
            if rule.lower_at_keyword in _GROUPING_AT_RULES:
                inner = tinycss2.parse_rule_list(rule.content, skip_whitespace=True, skip_comments=True)
                out.append(f"@{rule.lower_at_keyword} {prelude}{{{_scope_rules(inner)}}}")
            elif rule.lower_at_keyword in _KEYFRAMES:
                out.append(f"@{rule.lower_at_keyword} {prelude}{{{tinycss2.serialize(rule.content)}}}")
    return "".join(out)


def scope_stylesheet(css: str) -> str:
    """A game's style sheet with every rule scoped under the board ("" if it could load
    anything). Comments, strings and escapes are read by a CSS tokenizer, so no brace in
    them can end a rule early."""
    if not css.strip() or not css_is_safe(css):
        return ""
    rules = tinycss2.parse_stylesheet(css, skip_whitespace=True, skip_comments=True)
    return _scope_rules(rules)


def _style_attribute(css: str) -> str | None:
    """An inline style kept (rewritten if it positions anything), or None to drop it."""
    if not css_is_safe(css):
        return None
    if "fixed" not in css.lower():  # (no escapes: the word cannot be spelled another way)
        return css
    return _declarations(css)


def _needs_work(values: str) -> bool:
    """True if one of these inline styles (as nh3 quotes them) must be dropped or rewritten."""
    css = html_text.unescape(values) if "&" in values else values
    return not css_is_safe(css) or "fixed" in css.lower()


def _clean_tag(match: re.Match[str]) -> str:
    tag = match.group(0)
    if ' style="' not in tag:
        return tag

    def attribute(found: re.Match[str]) -> str:
        if found.group(1) != "style":
            return found.group(0)
        css = _style_attribute(html_text.unescape(found.group(2)))
        return "" if css is None else f' style="{html_text.escape(css)}"'

    return _ATTRIBUTE.sub(attribute, tag)


def _scope_style(match: re.Match[str]) -> str:
    source = match.group(1)
    css = SHEETS.get(source)  # a game sends the same style sheet with every board
    if css is None:
        css = scope_stylesheet(source)
        SHEETS.put(source, css)
    return f"<style>{css}</style>" if css else ""


@functools.cache
def _cleaner() -> nh3.Cleaner:
    return nh3.Cleaner(
        tags=set(TAGS),
        clean_content_tags=set(DROP_WITH_CONTENT),
        attributes={tag: set(names) for tag, names in ATTRIBUTES.items()},
        strip_comments=True,
        link_rel="noopener noreferrer nofollow",
        generic_attribute_prefixes=set(ATTRIBUTE_PREFIXES),
        tag_attribute_values={tag: {a: set(v) for a, v in values.items()}
                              for tag, values in ATTRIBUTE_VALUES.items()},
        url_schemes=set(URL_SCHEMES),
    )


# -- the shape of a render, before the HTML parser sees it --------------------------------
# The parser's tree building is quadratic in the nesting (a 256 KiB render of nested <div>
# took seconds) and re-opens every unclosed formatting element of a different kind in each
# new block (a few hundred kinds multiply the output by as many): one linear scan bounds both.
MAX_ELEMENTS = 4096
MAX_DEPTH = 128
MAX_FORMATTING_KINDS = 16
MAX_OUTPUT = 1024 * 1024  # characters of sanitised HTML (the formatting elements re-opened included)
# One token of the HTML tokenizer, read as it reads them: a start or end tag with its attributes
# (quoted values may hold "<" and ">"), a comment, or a bogus comment ("<!x>", "<?x>", "</1>").
_SPACE = r"[\t\n\f\r ]"
_ATTRIBUTES = (rf"(?:[\t\n\f\r /]++|[^\t\n\f\r />][^\t\n\f\r />=]*+(?:{_SPACE}*+={_SPACE}*+"
               r"""(?:"[^"]*+"|'[^']*+'|[^\t\n\f\r >]++|(?=>)))?+)*+""")
_TAG = re.compile(rf"<(/?)([a-zA-Z][^\t\n\f\r />]*+)(?:{_ATTRIBUTES})>?|<!--|<(?:!|\?|/(?![a-zA-Z]))[^>]*+>?")
_COMMENT_END = re.compile(r"--!?>")
_RAW_TEXT_ELEMENTS = frozenset({"style", "script", "textarea", "title", "xmp", "iframe", "noembed",
                                "noframes", "noscript"})
_VOID = frozenset({"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta",
                   "param", "source", "track", "wbr"})
_FORMATTING_NAMES = frozenset({"a", "b", "big", "code", "em", "font", "i", "nobr", "s", "small", "strike",
                               "strong", "tt", "u"})
_FORMATTING = re.compile(rf"<(?:{'|'.join(sorted(_FORMATTING_NAMES))})(?=[\t\n\f\r />]){_ATTRIBUTES}",
                         re.IGNORECASE)
# Start tags that close an open <p> (and every formatting element inside it).
_CLOSES_P = frozenset({"address", "article", "aside", "blockquote", "center", "details", "dialog", "dir",
                       "div", "dl", "fieldset", "figcaption", "figure", "footer", "form", "h1", "h2", "h3",
                       "h4", "h5", "h6", "header", "hgroup", "hr", "main", "menu", "nav", "ol", "p", "pre",
                       "section", "summary", "table", "ul", "li", "dd", "dt", "listing", "xmp", "plaintext"})
_SCOPE_LIMITS = frozenset({"applet", "caption", "html", "table", "td", "th", "marquee", "object", "template",
                           "button"})
_FOREIGN = re.compile(r"<(?:svg|math)(?=[\t\n\f\r />])", re.IGNORECASE)


class MarkupTooComplex(ValueError):
    """A render the sanitiser will not parse (too many tags, too deep, too many kinds)."""


def check_shape(html: str) -> None:
    """MarkupTooComplex if `html` has more than MAX_ELEMENTS start tags, nests deeper than MAX_DEPTH,
    has more than MAX_FORMATTING_KINDS distinct formatting start tags, or closes more than that many
    formatting elements implicitly (the parser re-opens each in every later block). Tags are read
    as the HTML tokenizer reads them (attribute values, comments and raw text are not markup); the
    tree is estimated. Linear in the length."""
    tags = html.count("<")
    if not tags:
        return
    kinds = set(_FORMATTING.findall(html))
    if len(kinds) > MAX_FORMATTING_KINDS:
        raise MarkupTooComplex(f"it has {len(kinds)} kinds of formatting tags (b, i, a... with their "
                               f"attributes), more than {MAX_FORMATTING_KINDS}")
    if tags <= MAX_DEPTH:  # too few tags to nest too deep, be too many or re-open many
        return
    if _FOREIGN.search(html) and len(_FORMATTING.findall(html)) > 4 * MAX_FORMATTING_KINDS:
        # In <svg> and <math> the tokenizer reads <style>, <title>... as markup: no estimate.
        raise MarkupTooComplex("it has SVG or MathML and many formatting tags")
    stack: list[str] = []
    count = implicit = 0
    skip_to = 0  # the end of a comment or of a raw-text element's text

    def close(name: str) -> int:
        """Pop up to `name`: how many formatting elements were closed on the way."""
        closed = 0
        while (top := stack.pop()) != name:
            closed += top in _FORMATTING_NAMES
        return closed

    for found in _TAG.finditer(html):
        if found.start() < skip_to:
            continue
        if found.group(0) == "<!--":
            end = _COMMENT_END.search(html, found.end())
            skip_to = len(html) if end is None else end.end()
            continue
        if found.group(2) is None:  # a bogus comment
            continue
        name = found.group(2).lower()
        if found.group(1):  # an end tag closes the innermost open element it names
            if name in stack:
                implicit += close(name)
        else:
            count += 1
            if count > MAX_ELEMENTS:
                raise MarkupTooComplex(f"it has more than {MAX_ELEMENTS} elements")
            if name in _CLOSES_P and "p" in stack:
                for open_name in reversed(stack):
                    if open_name == "p":
                        implicit += close("p")
                        break
                    if open_name in _SCOPE_LIMITS:
                        break
            if name not in _VOID:
                stack.append(name)
                if len(stack) > MAX_DEPTH:
                    raise MarkupTooComplex(f"its elements nest deeper than {MAX_DEPTH} levels")
                if name in _RAW_TEXT_ELEMENTS:  # its text is not markup: skip to its end tag
                    end = re.compile(rf"</{name}(?=[\t\n\f\r />])", re.IGNORECASE).search(html, found.end())
                    skip_to = len(html) if end is None else end.start()
        if implicit > MAX_FORMATTING_KINDS:
            raise MarkupTooComplex(f"it leaves more than {MAX_FORMATTING_KINDS} formatting elements "
                                   "(b, i, a...) to be closed by the block around them")


def refusal(reason: str) -> str:
    """What is shown instead of a render the sanitiser refused."""
    return (f'<p class="gb-refused">This board is not shown: {html_text.escape(reason)}. '
            "Its game should draw a simpler one.</p>")


# The parser behind nh3 takes about 0.7 us per named character reference and
# half that per numeric one (a board of escaped text has hundreds), so two
# rewrites that change nothing in what the parser reads come first:
#
# 1. In a fragment of plain tags (double-quoted attribute values without "&",
#    no comments, no element whose text is raw: <style>, <textarea>, <svg>...)
#    every "&" is in text, where &quot; and a literal " (likewise ' and >) are
#    the same character: those references are written as the characters.
_RAW_TEXT = "style|script|textarea|title|xmp|iframe|noembed|noframes|noscript|plaintext|svg|math"
_PLAIN_TAGS = re.compile(
    r"(?:<(?!/?(?:" + _RAW_TEXT + r")[\s>/])/?[a-zA-Z][a-zA-Z0-9]*+"
    r'(?:\s++[a-zA-Z_:][-a-zA-Z0-9_:.]*+(?:="[^"<>&]*+")?)*+\s*+>|[^<]++)*+',
    re.IGNORECASE)
_IN_TEXT = (("&quot;", '"'), ("&#34;", '"'), ("&apos;", "'"), ("&#39;", "'"), ("&gt;", ">"))
# 2. Anywhere else the common ones are written as numbers: the same characters
#    wherever references are read (text, attribute values); where they are not
#    (raw text: <style> is rejected for its "&", the other raw-text elements
#    are dropped with their content) both forms are junk.
_NUMERIC = (("&quot;", "&#34;"), ("&amp;", "&#38;"), ("&lt;", "&#60;"), ("&gt;", "&#62;"),
            ("&apos;", "&#39;"))


def _cheap_references(html: str) -> str:
    if _PLAIN_TAGS.fullmatch(html):
        for reference, char in _IN_TEXT:
            html = html.replace(reference, char)
    for named, numeric in _NUMERIC:
        html = html.replace(named, numeric)
    return html





# Spectators, and viewers whose board did not change, share work. Sizes count characters.
CACHE = BoundedCache(entries=4096, max_chars=32 * 1024 * 1024)
SHEETS = BoundedCache(entries=256, max_chars=4 * 1024 * 1024)  # style sheets, scoped


def sanitize_timed(html: str) -> tuple[str, float]:
    """(the safe version of a game's HTML fragment, the seconds of CPU it took to make it);
    0.0 when it came from the cache. Callers count the time against the game's limits."""
    found = CACHE.get(html)
    if found is not None:
        return found, 0.0
    started = time.thread_time()
    result = _sanitize(html)
    CACHE.put(html, result)
    return result, time.thread_time() - started


def sanitize(html: str) -> str:
    """The safe version of a game's HTML fragment (a short notice if it is too complex to parse)."""
    return sanitize_timed(html)[0]


def _sanitize(html: str) -> str:
    try:
        check_shape(html)
    except MarkupTooComplex as exc:
        return refusal(str(exc))
    cleaned = _clean(_cheap_references(html) if "&" in html else html)
    if len(cleaned) > MAX_OUTPUT:
        return refusal(f"it grows to {len(cleaned)} characters when parsed, more than {MAX_OUTPUT}")
    return cleaned


def _clean(html: str) -> str:
    cleaned: str = _cleaner().clean(html)
    if ' style="' in cleaned and _needs_work("\n".join(_STYLE_VALUE.findall(cleaned))):
        cleaned = _START_TAG.sub(_clean_tag, cleaned)
    if "<style" in cleaned:
        cleaned = _STYLE_ELEMENT.sub(_scope_style, cleaned)
    return cleaned
