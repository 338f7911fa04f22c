"""JSON in and out of extensions: fast, with the standard library's results.

Encoding params and decoding results is a large part of a small call, so it
uses `orjson` (the `wasmplug[extensions]` extra) when it is installed, and
falls back to the standard `json` module wherever the two would differ, so the
values an extension receives and the results a caller gets are the same
either way:

- params: orjson refuses what it cannot encode exactly as `json` would
  (non-string keys, integers beyond 64 bits, subclasses of str/int/dict/list,
  dataclasses, datetimes, text that is not valid UTF-8): `json` encodes those,
  or refuses them. orjson writes NaN and Infinity as `null`, so any output
  with a `null` in it is encoded again by `json` (which keeps them as the
  tokens NaN, Infinity: what an extension receives does not change).
  One difference remains: orjson also encodes UUIDs (as their text) and enums
  (as their value), which `json` refuses; such params are sent, not refused.
- results: orjson refuses what is not strict UTF-8 JSON (NaN, huge exponents,
  other encodings): `json` then decides. orjson reads integers beyond 64 bits
  as floats (below -2**63 or above 2**64 - 1), so output with a run of 19 or more
  digits is decoded by `json`.

Both the fast and the exact path are tested (tests/extensions/test_codec.py).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

_json_encode = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
_long_digits = re.compile(rb"[0-9][0-9]{18}").search
# (a compiled search finds a 4-byte literal about 1.5x faster than `in` on JSON)
_has_null = re.compile(rb"null").search
_DIGITS = b"0123456789"


def encode_exact(value: Any) -> bytes:
    """`value` as compact JSON by the standard library (TypeError/ValueError if it cannot)."""
    return _json_encode(value).encode("utf-8")


def decode_exact(data: bytes) -> Any:
    """The standard library's `json.loads` (ValueError if `data` is not JSON)."""
    return json.loads(data)


def _orjson() -> Any:
    try:
        import orjson
    except ImportError:
        return None
    return orjson


def _make_codec() -> tuple[Callable[[Any], bytes], Callable[[bytes], Any]]:
    orjson = _orjson()
    if orjson is None:
        return encode_exact, decode_exact
    dumps, loads = orjson.dumps, orjson.loads
    refused = (TypeError, orjson.JSONEncodeError)
    invalid = orjson.JSONDecodeError
    options = (orjson.OPT_PASSTHROUGH_SUBCLASS | orjson.OPT_PASSTHROUGH_DATACLASS
               | orjson.OPT_PASSTHROUGH_DATETIME)

    def encode(value: Any) -> bytes:
        try:
            data: bytes = dumps(value, option=options)
        except refused:
            return encode_exact(value)
        if _has_null(data) is not None:  # maybe a NaN or an Infinity (or just a None)
            return encode_exact(value)
        return data

    def decode(data: bytes) -> Any:
        # (counting the digits first is cheaper than searching for a run of 20)
        if len(data) - len(data.translate(None, _DIGITS)) >= 19 and _long_digits(data):
            return json.loads(data)
        try:
            return loads(data)
        except invalid:
            return json.loads(data)

    return encode, decode


encode, decode = _make_codec()
