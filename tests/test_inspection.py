"""`wasmplug.inspect_plugin`: the Python side of `wasmplug info`."""

from __future__ import annotations

import pytest

import wasmplug

from .conftest import wasm


def test_inspects_a_plugin_that_needs_host_functions_without_running_it() -> None:
    report = wasmplug.inspect_plugin(wasm("host_functions").read_bytes())
    assert "say_hello" in report["functions"]
    assert "extism:host/user.hello_world (i64) -> (i64)" in report["host_functions_needed"]
    with pytest.raises(wasmplug.LoadError):  # while Plugin refuses to create it
        wasmplug.Plugin(wasm("host_functions"), functions=[])


def test_bad_input_is_a_wasmplug_error() -> None:
    with pytest.raises(wasmplug.Error):
        wasmplug.inspect_plugin(b"\0asm\x01\0\0\0garbage")
    with pytest.raises(wasmplug.ManifestError):
        wasmplug.inspect_plugin({"wasm": []})
