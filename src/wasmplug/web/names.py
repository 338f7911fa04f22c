"""Names people choose (usernames, display names): normalised, visible, and told apart.

`display_name` turns what someone typed into the name to show: NFKC
normalised (fullwidth letters are plain ones), spaces collapsed, and refused if it
is too short or long, holds an invisible or control character (zero-width
spaces, joiners, bidi controls, the braille blank, Hangul fillers...), a
pile of combining marks, or nothing visible at all.

`skeleton` is what a name looks like, for telling names apart: two names
with the same skeleton are confusable (`ann` with a Cyrillic a and with a Latin one,
`bob` and `b0b`, `rn` and `m`). It follows the idea of Unicode's UTS #39
skeletons with a small table of our own (Latin, Cyrillic and Greek
look-alikes, digits that pass for letters); NFKC covers fullwidth and other
compatibility forms. Maintained PyPI packages offer a confusables list
(`confusable-homoglyphs`) but no skeleton to compare by, hence the table.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable

from wasmplug import Error

# Characters that draw nothing (or only space) but are not whitespace to str.split().
BLANKS = frozenset("\u2800\u3164\u115f\u1160\uffa0\u180e\u17b4\u17b5\u034f\u2061\u2062\u2063\u2064")
MAX_MARKS = 2  # combining marks on one character (more is "zalgo" text, drawn over its neighbours)

# Look-alikes of Latin letters, mapped before case folding (written as escapes: they look like
# the letters they stand for): each character of a first string becomes the one below it.
# Cyrillic (and the Latin script g)
_CYRILLIC = (
    "\u0410\u0412\u0415\u0401\u041a\u041c\u041d\u041e\u0420\u0421\u0422\u0423"
    "\u0425\u0405\u0406\u0407\u0408\u051a\u051c\u04c0\u0430\u0432\u0435\u0451"
    "\u043a\u043c\u043d\u043e\u0440\u0441\u0442\u0443\u0445\u0455\u0456\u0457"
    "\u0458\u0501\u051b\u051d\u04bb\u04cf\u044c\u0261",
    "ABEEKMHOPCTY"
    "XSIIJQWIabee"
    "kmhopctyxsii"
    "jdqwhlbg",
)
# Greek
_GREEK = (
    "\u0391\u0392\u0395\u0396\u0397\u0399\u039a\u039c\u039d\u039f\u03a1\u03a4"
    "\u03a5\u03a7\u03b1\u03b2\u03b3\u03b5\u03b7\u03b9\u03ba\u03bd\u03bf\u03c1"
    "\u03c4\u03c5\u03c7\u03c9\u03f2\u03f3",
    "ABEZHIKMNOPT"
    "YXabyenikvop"
    "tuxwcj",
)
_LOOKALIKES = str.maketrans(_CYRILLIC[0] + _GREEK[0], _CYRILLIC[1] + _GREEK[1])
# After case folding: digits and signs that pass for letters, and letter pairs that pass for one.
_ALIKE = str.maketrans({"0": "o", "1": "l", "i": "l", "|": "l", "!": "l", "5": "s", "$": "s",
                        "@": "a", "\u0131": "l"})  # \u0131: dotless i
_PAIRS = (("rn", "m"), ("vv", "w"), ("cl", "d"))


class NameRefused(Error):
    """A name that cannot be used (too short or long, invisible, control characters...)."""


def _invisible(char: str) -> bool:
    return unicodedata.category(char)[0] == "C" or char in BLANKS


def display_name(typed: str, low: int, high: int, error: type[Error] = NameRefused) -> str:
    """`typed` as a name of `low` to `high` characters (NFKC, spaces collapsed); `error` says why not."""
    name = " ".join(unicodedata.normalize("NFKC", typed[: high * 8]).split())
    if len(typed) > high * 8 or not low <= len(name) <= high:
        raise error(f"a name must be {low} to {high} characters long (got "
                    f"{len(name) if len(typed) <= high * 8 else 'many more'}): choose another")
    if any(_invisible(char) for char in name):
        raise error("a name may not contain invisible or control characters (zero-width spaces, "
                    "joiners, blank signs...): choose another")
    marks = 0
    for char in name:
        marks = marks + 1 if unicodedata.combining(char) else 0
        if marks > MAX_MARKS:
            raise error(f"a name may carry at most {MAX_MARKS} accents on a letter: choose another")
    if unicodedata.combining(name[0]) or not any(char.isalnum() for char in name):
        raise error("a name needs letters or digits you can see: choose another")
    return name


def skeleton(name: str) -> str:
    """What `name` looks like: equal skeletons mean confusable names."""
    text = unicodedata.normalize("NFKC", name).translate(_LOOKALIKES).casefold()
    text = "".join(char for char in unicodedata.normalize("NFD", text)
                   if not unicodedata.combining(char) and not _invisible(char) and not char.isspace())
    text = text.translate(_ALIKE)
    for pair, single in _PAIRS:
        text = text.replace(pair, single)
    return text


def lookalike(name: str, others: Iterable[str]) -> str | None:
    """The first of `others` that is confusable with `name` (the same skeleton), or None."""
    wanted = skeleton(name)
    return next((other for other in others if skeleton(other) == wanted), None)
