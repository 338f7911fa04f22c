"""Buffer: the encodings and argument forms of the JS PDK's Buffer (utf16le/ucs2, ascii,
encodings in alloc/write/fill/indexOf), checked against Python's codecs."""

from __future__ import annotations

import json
from collections.abc import Callable

import wasmplug


def test_encodings_and_argument_forms(load: Callable[..., wasmplug.Plugin]) -> None:
    text = "Hé €😀"
    result = json.loads(load("buffer_encodings.js").call("run", text))
    assert result["utf16le"] == text.encode("utf-16-le").hex()
    assert result["ucs2Back"] == text
    assert result["ascii"] == "Hil"  # ascii keeps the low 7 bits, as Node's does (0xe9 -> 'i')
    assert result["byteLength16"] == len(text.encode("utf-16-le"))
    assert result["isEncoding"] == [True, True, True, False]
    assert result["allocPattern"] == "abababa"
    assert result["allocHex"] == "0a0b0a0b"
    assert result["writeHex"] == [2, "..hi...."]
    assert result["writeLength"] == [2, "-ab---"]
    assert result["writeEncodingOnly"] == [2]
    assert result["indexOfHex"] == 4
    assert result["fillEncoding"] == "aaaaaaaa"
    assert result["unknown"] == "TypeError: Unknown encoding: klingon"
