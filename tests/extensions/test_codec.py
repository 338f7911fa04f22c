"""JSON for params and results: orjson when installed, with the standard library's results."""

from __future__ import annotations

import datetime
import enum
import json
import math
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wasmplug.extensions import ExtensionHost, codec

from .conftest import Recorder, entry

OpenHost = Callable[..., tuple[ExtensionHost, Recorder]]


class Name(str):
    """A str subclass: the standard library encodes it as the plain string."""


def exact(value: Any) -> str:
    """What the standard library makes of `value`, NaN-aware (repr: nan == nan)."""
    return repr(json.loads(codec.encode_exact(value)))


TRICKY = [
    {"x": float("nan"), "y": float("inf"), "z": -float("inf")},
    {"n": None, "s": "\u00e9\u4e2d\U0001f600"},
    {1: "int key", False: "bool key", None: "null key", 2.5: "float key"},
    {"big": 2**70, "neg": -(2**80), "edge": 2**64 - 1, "small": -(2**63)},
    {"sub": Name("x"), Name("k"): [1.5, 1e16, 1e-7, -0.0]},
    [(1, 2), "tuple"],
    {"deep": [[[[{"a": [1, 2, {"b": None}]}]]]]},
]


@pytest.mark.parametrize("value", TRICKY, ids=range(len(TRICKY)))
def test_encode_sends_what_the_standard_library_would(value: Any) -> None:
    assert repr(json.loads(codec.encode(value))) == exact(value)


def test_encode_keeps_nan_and_infinity_as_tokens() -> None:
    # orjson alone would send null: an extension must see the same as before
    assert codec.encode({"x": float("nan")}) == b'{"x":NaN}'
    assert codec.encode([float("inf")]) == b"[Infinity]"


@pytest.mark.parametrize("value", [object(), {1, 2}, datetime.date(2026, 1, 1), b"bytes"])
def test_encode_refuses_what_the_standard_library_refuses(value: Any) -> None:
    with pytest.raises(TypeError):
        codec.encode_exact(value)
    with pytest.raises(TypeError):
        codec.encode(value)


def test_uuids_and_enums_are_sent_as_orjson_writes_them() -> None:
    # the one documented difference from the standard library (codec.py)
    if codec.encode is codec.encode_exact:
        pytest.skip("orjson is not installed: the standard library refuses both")
    color = enum.Enum("Color", {"RED": "red"})
    assert codec.encode({"id": uuid.UUID(int=1), "c": color.RED}) == (
        b'{"id":"00000000-0000-0000-0000-000000000001","c":"red"}')


def test_encode_refuses_text_that_is_not_utf8() -> None:
    with pytest.raises(ValueError):
        codec.encode({"s": "\ud800"})


@pytest.mark.parametrize("data", [
    b"123456789012345678901234567890",
    b'{"a":-99999999999999999999,"b":[18446744073709551616]}',
    b"[NaN, Infinity, -Infinity]",
    b"1e400",
    b'{"a":1,"a":2}',
    '{"utf16": "\u00e9"}'.encode("utf-16"),
    b'"\\ud800"',
    b' {"spaces" : [ 1 , 2 ] } ',
    b'{"transformed":true,"output":{"module":"m","n":[1,2.5,-3e-5]}}',
])
def test_decode_reads_what_the_standard_library_reads(data: bytes) -> None:
    assert repr(codec.decode(data)) == repr(json.loads(data))


@pytest.mark.parametrize("data", [b"", b"this is not JSON", b"\xff\xfe\xfd", b'{"a":', b"[1] 2"])
def test_decode_refuses_what_the_standard_library_refuses(data: bytes) -> None:
    with pytest.raises(ValueError):
        json.loads(data)
    with pytest.raises(ValueError):
        codec.decode(data)


def test_big_integers_in_results_stay_exact() -> None:
    edge = codec.decode(b"[-9223372036854775809, 18446744073709551616, 18446744073709551615]")
    assert edge == [-(2**63) - 1, 2**64, 2**64 - 1] and all(isinstance(n, int) for n in edge)
    big = 123456789012345678901234567890
    decoded = codec.decode(json.dumps({"big": big, "list": [-big]}).encode())
    assert decoded == {"big": big, "list": [-big]} and isinstance(decoded["big"], int)


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
        st.text(max_size=5) | st.integers(), inner, max_size=4),
    max_leaves=12)


@settings(max_examples=300, deadline=None)
@given(JSON_VALUES)
def test_round_trips_match_the_standard_library(value: Any) -> None:
    try:
        expected = codec.encode_exact(value)
    except ValueError:  # a lone surrogate in the text
        with pytest.raises(ValueError):
            codec.encode(value)
        return
    sent = codec.encode(value)
    assert repr(json.loads(sent)) == repr(json.loads(expected))
    assert repr(codec.decode(expected)) == repr(json.loads(expected))


def test_without_orjson_the_standard_library_does_everything(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(codec, "_orjson", lambda: None)
    encode, decode = codec._make_codec()
    assert (encode, decode) == (codec.encode_exact, codec.decode_exact)
    assert decode(encode({"x": [1, 2**70, math.pi]})) == {"x": [1, 2**70, math.pi]}


def test_an_extension_receives_and_returns_the_exact_values(open_host: OpenHost) -> None:
    host, _ = open_host(entry("plain", "no_lifecycle"))
    params = {"nan": float("nan"), "big": -(2**70), "none": None, Name("k"): Name("v"), 7: "seven"}
    answer = host.call("plain", "echo", params)
    assert math.isnan(answer["nan"]) and answer["big"] == -(2**70)
    assert answer["none"] is None and answer["k"] == "v" and answer["7"] == "seven"
