"""Names people choose: normalised, visible, and told apart from look-alikes."""

from __future__ import annotations

import pytest

from wasmplug import Error
from wasmplug.web.names import NameRefused, display_name, lookalike, skeleton

CYRILLIC_A, GREEK_O, FULLWIDTH_ANN = "\u0430", "\u03bf", "\uff41\uff4e\uff4e"


def test_names_are_nfkc_normalised_and_trimmed() -> None:
    assert display_name(FULLWIDTH_ANN, 2, 12) == "ann"
    assert display_name("  ann \u3000 lee ", 2, 12) == "ann lee"
    assert display_name("Zo\u00eb", 2, 12) == "Zo\u00eb"  # accents are fine
    assert display_name("\u5f20\u4f1f", 2, 12) == "\u5f20\u4f1f"  # and other scripts


@pytest.mark.parametrize("invisible", [
    "\u2800\u2800\u2800",  # braille blank
    "\u200b\u200b",  # zero-width spaces
    "an\u200bn",  # one hidden inside
    "ann\u202e",  # a bidi override
    "\u3164\u3164",  # Hangul filler
    "\u115f\u1160\uffa0",
    "a\u00adb",  # soft hyphen
    "\u0301\u0301\u0301",  # marks on nothing
    "a\u0301\u0302\u0303\u0304",  # zalgo
    "...",  # nothing visible but punctuation
    "a\x07b",  # a control character
])
def test_invisible_and_blank_names_are_refused(invisible: str) -> None:
    with pytest.raises(NameRefused) as refused:
        display_name(invisible, 2, 12)
    assert "choose another" in str(refused.value)


def test_length_is_counted_after_normalising_and_huge_input_is_not_normalised() -> None:
    with pytest.raises(NameRefused, match="2 to 12"):
        display_name("\ufdfa", 2, 12)  # one character that NFKC makes 18
    with pytest.raises(NameRefused, match="many more"):
        display_name("x" * 1_000_000, 2, 12)

    class Custom(Error):
        pass

    with pytest.raises(Custom):
        display_name("x", 2, 12, Custom)


def test_confusable_names_share_a_skeleton() -> None:
    for a, b in [("ann", f"{CYRILLIC_A}nn"), ("bob", f"b{GREEK_O}b"), ("bob", "b0b"), ("bob", "BOB"),
                 ("ann", FULLWIDTH_ANN), ("bill", "b1ll"), ("bill", "bIll"), ("modern", "modem"),
                 ("zoe", "zo\u00eb"), ("alice", "AL\u0399CE"), ("hex", "\u041d\u0415\u0425")]:
        assert skeleton(a) == skeleton(b), (a, b)
    for a, b in [("ann", "anne"), ("bob", "rob"), ("max", "mia")]:
        assert skeleton(a) != skeleton(b), (a, b)
    assert lookalike(f"{CYRILLIC_A}dmin", ["bob", "admin"]) == "admin"
    assert lookalike("carol", ["bob", "admin"]) is None
