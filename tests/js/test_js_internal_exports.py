"""A built JS plug-in exports its memory and the user's functions, nothing else.

The runtime's own entry points (load other code, invoke by name, reset) stay
internal: a caller that can pick the function name (a CLI user, a FaaS front
end) cannot replace the plug-in's code or read its config through them.
"""

from __future__ import annotations

import extism
import pytest
import wasmtime

import wasmplug

from .conftest import built

INTERNAL = ("__wasmplug_load", "__wasmplug_invoke", "__wasmplug_reset", "__wasmplug_source_len",
            "__wasmplug_source_copy", "__wasmplug_call", "__wasmplug_preinit", "_initialize")
# What __wasmplug_load would take: kind, file name, NUL, code that leaks the secret.
INJECTED = b"sevil.js\0function greet() { Host.outputString('leaked ' + Config.get('secret')) }"
CONFIG = {"secret": "hunter2"}


def test_only_the_declared_functions_and_memory_are_exported() -> None:
    module = wasmtime.Module(wasmtime.Engine(), built("secret_keeper.js"))
    assert sorted(e.name for e in module.exports) == ["greet", "memory"]


def test_internal_entry_points_cannot_be_called_through_wasmplug() -> None:
    with wasmplug.Plugin({"wasm": [{"data": built("secret_keeper.js")}]}, wasi=True,
                         config=CONFIG) as plugin:
        assert plugin.call("greet", b"") == b"hello #1 (secret has 7 characters)"
        for name in INTERNAL:
            assert not plugin.function_exists(name)
            with pytest.raises(wasmplug.Error, match=name):
                plugin.call(name, INJECTED)
        # the code, its state and the secret are untouched
        assert plugin.call("greet", b"") == b"hello #2 (secret has 7 characters)"


def test_internal_entry_points_cannot_be_called_through_the_official_sdk() -> None:
    plugin = extism.Plugin({"wasm": [{"data": built("secret_keeper.js")}]}, wasi=True, config=CONFIG)
    assert plugin.call("greet", b"") == b"hello #1 (secret has 7 characters)"
    for name in INTERNAL:
        assert not plugin.function_exists(name)
        with pytest.raises(extism.Error):
            plugin.call(name, INJECTED)
    assert plugin.call("greet", b"") == b"hello #2 (secret has 7 characters)"
