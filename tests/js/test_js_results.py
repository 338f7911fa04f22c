"""Function results and thrown values, as the JS PDK defines them (plugins/js/results.js)."""

from __future__ import annotations

import re
from collections.abc import Callable

import extism
import pytest

import wasmplug

from .conftest import built

Load = Callable[..., wasmplug.Plugin]


def test_booleans_and_undefined_are_success_a_number_is_the_return_code(load: Load) -> None:
    plugin = load("results.js")
    assert plugin.call("returns_true", "") == b"hi"
    assert plugin.call("returns_false", "") == b"still fine"
    assert plugin.call("returns_undefined", "") == b"nothing returned"
    with pytest.raises(wasmplug.CallError) as caught:
        plugin.call("returns_code", "")
    assert caught.value.code == 3


def test_the_official_sdk_sees_the_same_results() -> None:
    plugin = extism.Plugin({"wasm": [{"data": built("results.js")}]}, wasi=True)
    assert plugin.call("returns_true", "") == b"hi"
    assert plugin.call("returns_undefined", "") == b"nothing returned"
    with pytest.raises(extism.Error, match=re.escape('{"code":7,"why":"no"}')):
        plugin.call("throws_object", "")


@pytest.mark.parametrize(("name", "message"), [
    ("throws_object", '{"code":7,"why":"no"}'),
    ("throws_string", "plain words"),
    ("throws_cyclic", "[object Object]"),
    ("throws_hostile", "a value was thrown that cannot be shown as text (its toString failed)"),
    ("throws_error_with_hostile_to_string", "TypeError: the real message (its toString threw)"),
])
def test_thrown_values_are_reported_readably(load: Load, name: str, message: str) -> None:
    plugin = load("results.js")
    with pytest.raises(wasmplug.CallError) as caught:
        plugin.call(name, "")
    assert str(caught.value).split("\n")[0] == message
    assert "out of memory" not in str(caught.value)
    assert plugin.call("ok", "") == b"ok"
