"""Making a game's HTML safe to put in the page (the first of two walls; the
page's Content-Security-Policy is the second).

`sanitize` keeps an allow-list of tags and attributes (what games need to
draw a board and send `phx-click` events), drops scripts, event handlers,
forms, frames, images, SVG and every URL but http(s) links, checks CSS
(inline `style` and `<style>` elements) for anything that could load a
resource, and scopes `<style>` rules to the board so a game cannot restyle
the platform around it.
"""

from __future__ import annotations

import functools
import html as html_text
import re

import nh3

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
    "label": {"for"},
}
ATTRIBUTE_VALUES = {"input": {"type": {"text", "number", "checkbox", "radio", "range"}}}
ATTRIBUTE_PREFIXES = {"phx-value-", "aria-"}
URL_SCHEMES = {"http", "https"}

# CSS that could load something or hide a function name behind an escape.
_CSS_DANGER = re.compile(
    r"\\|url\s*\(|image-set|image\s*\(|cross-fade|element\s*\(|src\s*\(|@import|@font-face|@namespace"
    r"|expression|-moz-binding|behavior|javascript:|<|&", re.IGNORECASE)
_STYLE_ELEMENT = re.compile(r"<style>(.*?)</style>", re.DOTALL)
# nh3's output quotes every attribute value with " (a " inside is &quot;).
_STYLE_ATTRIBUTE = re.compile(r' style="([^"]*)"')
BOARD_SELECTOR = "#board"


def css_is_safe(css: str) -> bool:
    """True if `css` cannot load a resource (no url(), @import, escapes...)."""
    return _CSS_DANGER.search(css) is None


def _balanced(css: str) -> bool:
    """Braces never close more than they opened (so scoping cannot be escaped)."""
    depth = 0
    for char in css:
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth < 0:
                return False
    return depth == 0


def _check_style_attribute(match: re.Match[str]) -> str:
    return match.group(0) if css_is_safe(html_text.unescape(match.group(1))) else ""


def _scope_style(match: re.Match[str]) -> str:
    css = match.group(1)
    if not css.strip() or not css_is_safe(css) or not _balanced(css):
        return ""
    return f"<style>{BOARD_SELECTOR}{{{css}}}</style>"


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


@functools.lru_cache(maxsize=4096)  # spectators, and viewers whose board did not change, share work
def sanitize(html: str) -> str:
    """The safe version of a game's HTML fragment."""
    return _clean(_cheap_references(html) if "&" in html else html)


def _clean(html: str) -> str:
    cleaned: str = _cleaner().clean(html)
    if ' style="' in cleaned:
        cleaned = _STYLE_ATTRIBUTE.sub(_check_style_attribute, cleaned)
    if "<style>" in cleaned:
        cleaned = _STYLE_ELEMENT.sub(_scope_style, cleaned)
    return cleaned
