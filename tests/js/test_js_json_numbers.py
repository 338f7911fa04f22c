"""JSON.parse reads numbers exactly as a correctly rounding strtod would.

The runtime reads JSON numbers with its own fast path and QuickJS's js_atod
instead of wasi-libc's strtod (runtime/quickjs_unit.c), and keeps integers as
int32 values (recipe.SOURCE_EDITS): every double here must come out bit for bit
as Python's float() (correctly rounded) gives it, and the integers must behave
as the numbers they are.
"""

from __future__ import annotations

import json
import random
import struct

import pytest

from wasmplug.js import JSError, Sandbox

# The bits of each number of a JSON array, as little-endian hex.
BITS = """function bits(text) {
  const out = [];
  for (const x of JSON.parse(text)) {
    const b = new Uint8Array(new Float64Array([x]).buffer);
    out.push(Array.from(b, (v) => v.toString(16).padStart(2, "0")).join(""));
  }
  return out.join(" ");
}"""

EDGES = [
    "0", "-0", "0.0", "-0.0", "0e5", "0e-400", "1", "-1", "7", "42", "2147483647", "-2147483648",
    "2147483648", "-2147483649", "9007199254740991", "9007199254740992", "9007199254740993",
    "18446744073709551615", "18446744073709551616", "1234567890123456789", "12345678901234567890",
    "123456789012345678901234567890", "0.1", "0.2", "0.30000000000000004", "1.25", "3.14159",
    "1e22", "1e23", "1e-22", "1e-23", "9007199254740993e-22", "4.9406564584124654e-324", "5e-324",
    "2e-324", "2.2250738585072011e-308", "2.2250738585072014e-308", "1.7976931348623157e308",
    "1.7976931348623158e308", "1.7976931348623159e308", "1e308", "1e309", "-1e400", "1e-400",
    "0.000001", "1E5", "1e+5", "1.5E-5", "123.456e-7", "0.0000000000000000000000001234",
    "1" + "0" * 40, "0." + "0" * 30 + "1", "7." + "3" * 30, "9" * 19, "9" * 20, "1" * 19 + "e3",
]


def _random_numbers(rng: random.Random) -> list[str]:
    numbers: list[str] = []
    for _ in range(400):  # doubles from random bits, in Python's shortest form
        (value,) = struct.unpack("<d", rng.getrandbits(64).to_bytes(8, "little"))
        if value == value and abs(value) != float("inf"):
            numbers.append(repr(value).replace("e+", "e"))
    for _ in range(600):  # decimal text around the fast path's edges (19 digits, 10^22)
        digits = "".join(rng.choice("0123456789") for _ in range(rng.randint(1, 25))).lstrip("0") or "0"
        text = ("-" if rng.random() < 0.3 else "") + digits
        if rng.random() < 0.5 and len(digits) > 1:
            cut = rng.randint(1, len(digits) - 1)
            text = text[: len(text) - len(digits) + cut] + "." + digits[cut:]
        if rng.random() < 0.6:
            text += "e" + str(rng.choice([rng.randint(-30, 30), rng.randint(-340, 320)]))
        numbers.append(text)
    return numbers


def _expected(text: str) -> str:
    return struct.pack("<d", float(text)).hex()


def test_json_numbers_are_read_bit_for_bit_as_strtod_would() -> None:
    numbers = EDGES + _random_numbers(random.Random(19))
    with Sandbox(BITS, max_memory=64 << 20) as box:
        for start in range(0, len(numbers), 200):
            chunk = numbers[start:start + 200]
            got = box.call("[" + ",".join(chunk) + "]").decode().split()
            wrong = [(text, bits, _expected(text)) for text, bits in zip(chunk, got, strict=True)
                     if bits != _expected(text)]
            assert not wrong, wrong[:5]


def test_json_integers_behave_as_the_numbers_they_are() -> None:
    code = """function check(text) {
      const [seven, big, min, negzero, max, half] = JSON.parse(text);
      return [seven === 7, Object.is(negzero, -0), 1 / negzero, max + 1, min - 1, big * 2,
              seven / 2, half * 2 === 1, typeof seven, [10, 9, 1].indexOf(JSON.parse("9")),
              new Map([[seven, "x"]]).get(7), JSON.stringify(JSON.parse(text))];
    }"""
    with Sandbox(code) as box:
        assert box.call_json("[7, 9007199254740992, -2147483648, -0, 2147483647, 0.5]") == [
            True, True, None, 2147483648, -2147483649, 18014398509481984, 3.5, True, "number", 1,
            "x", "[7,9007199254740992,-2147483648,0,2147483647,0.5]"]


@pytest.mark.parametrize("text", ["01", "1.", "-", "1e", "1e+", ".5", "+1", "0x10", "Infinity", "1_000"])
def test_malformed_json_numbers_are_still_refused(text: str) -> None:
    with Sandbox("function p(text) { return JSON.parse(text) }") as box, \
            pytest.raises(JSError, match="SyntaxError"):
        box.call(text)


def test_the_transform_benchmark_gives_the_same_document() -> None:
    """The 10 KB transform of benchmarks/bench_js.py: numbers in, the same numbers out."""
    items = [{"id": i, "price": 1.25 + i % 17, "qty": i % 5} for i in range(110)]
    code = """function t(input) {
      const doc = JSON.parse(input);
      return JSON.stringify(doc.items.filter(x => x.qty > 0).map(x => ({id: x.id,
        total: Math.round(x.price * x.qty * 100) / 100})));
    }"""
    with Sandbox(code) as box:
        got = json.loads(box.call(json.dumps({"items": items})))
    assert got == [{"id": x["id"], "total": round(x["price"] * x["qty"] * 100) / 100}
                   for x in items if x["qty"] > 0]
