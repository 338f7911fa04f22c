"""How SQL values become a plug-in's input bytes, and its output bytes a SQL value.

Arguments (docs/sql.md, "Values"):

- no argument: empty input;
- one argument: TEXT as its UTF-8 bytes, BLOB as its bytes, INTEGER and REAL
  as decimal text (Python's shortest round-trip form), NULL as empty input
  (only reached when the function is not `strict`);
- several arguments (or `args="json"`): a JSON array, TEXT as a string,
  INTEGER/REAL as a number, NULL as null, BLOB as `{"base64": "..."}`.

The output is read as the function's declared result type; anything else is a
`wrong result type` error naming what came back.
"""

from __future__ import annotations

import base64
import enum
import json
import math
import re
from collections.abc import Sequence

from wasmplug import Error

SQLValue = None | int | float | str | bytes

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
_INTEGER = re.compile(rb"\s*[-+]?[0-9]{1,20}\s*")
_REAL = re.compile(rb"\s*[-+]?(?:(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?|inf|Infinity)\s*")


class ResultType(enum.StrEnum):
    """The declared SQL type of a function's result."""

    TEXT = "TEXT"
    BLOB = "BLOB"
    INTEGER = "INTEGER"
    REAL = "REAL"
    JSON = "JSON"

    @classmethod
    def parse(cls, value: str) -> ResultType:
        try:
            return cls(value.upper())
        except (ValueError, AttributeError):
            raise Error(f"unknown result type {value!r:.40}: use one of "
                        f"{', '.join(t.value for t in cls)}") from None


class WrongResultType(Error):
    """The plug-in's output is not a value of the declared result type."""


def _json_value(value: SQLValue) -> object:
    if isinstance(value, bytes | bytearray | memoryview):
        return {"base64": base64.b64encode(bytes(value)).decode("ascii")}
    if isinstance(value, float) and not math.isfinite(value):
        raise Error(f"cannot pass {value!r} to a plug-in as JSON: only finite numbers fit")
    return value


def encode_json(args: Sequence[SQLValue]) -> bytes:
    """Arguments as a JSON array (several arguments, or `args="json"`)."""
    return json.dumps([_json_value(v) for v in args], ensure_ascii=False,
                      separators=(",", ":"), allow_nan=False).encode()


def encode_one(value: SQLValue) -> bytes:
    """One argument as raw bytes."""
    if isinstance(value, str):
        return value.encode("utf-8", "surrogatepass")
    if isinstance(value, bytes):
        return value
    if value is None:
        return b""
    if isinstance(value, int | float):
        return repr(value).encode()
    if isinstance(value, bytearray | memoryview):
        return bytes(value)
    raise Error(f"cannot pass a {type(value).__name__} to a plug-in")


def encode_args(args: Sequence[SQLValue], as_json: bool) -> bytes:
    if as_json or len(args) > 1:
        return encode_json(args)
    if not args:
        return b""
    return encode_one(args[0])


def _shown(output: bytes) -> str:
    return repr(output[:40]) + ("…" if len(output) > 40 else "")


def decode(output: bytes, returns: ResultType) -> SQLValue:
    """The plug-in's output as a SQL value of type `returns`, or `WrongResultType`."""
    if returns is ResultType.TEXT:
        try:
            return output.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise WrongResultType(f"wrong result type: the output is not UTF-8 text "
                                  f"({exc.reason} at byte {exc.start}); declare BLOB for bytes") from None
    if returns is ResultType.BLOB:
        return output
    if not output.strip():
        return None
    if returns is ResultType.INTEGER:
        if _INTEGER.fullmatch(output):
            number = int(output)
            if INT64_MIN <= number <= INT64_MAX:
                return number
            raise WrongResultType(f"wrong result type: {number} does not fit a 64-bit INTEGER")
        raise WrongResultType(f"wrong result type: expected an INTEGER as decimal text, "
                              f"got {_shown(output)}")
    if returns is ResultType.REAL:
        if _REAL.fullmatch(output):
            return float(output)
        raise WrongResultType(f"wrong result type: expected a REAL as decimal text, got {_shown(output)}")
    try:
        value = json.loads(output)
    except (ValueError, RecursionError):
        raise WrongResultType(f"wrong result type: expected JSON, got {_shown(output)}") from None
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        if INT64_MIN <= value <= INT64_MAX:
            return value
        return float(value)
    if value is None or isinstance(value, float | str):
        return value
    return output.decode("utf-8").strip()
