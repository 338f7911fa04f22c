"""Everything the official SDK's `extism.extism` submodule defines.

Code (and the SDK's own tests) import from the submodule, e.g.
`from extism.extism import CompiledPlugin, _ExtismFunctionMetadata,
TypeInferredFunction`; with wasmplug that is
`from wasmplug.extism import ...`, and `import wasmplug as extism` makes
`extism.extism.X` work too. The SDK's names that only wrap its native
library (`_lib`, `_ffi`) have no counterpart: wasmplug has no native library.
"""

from __future__ import annotations

import json
import os
from base64 import b64encode
from collections.abc import Callable, Sequence
from typing import Any

from . import _callpath
from ._engine import extism_version
from ._errors import Error
from ._host_functions import (
    HOST_FN_REGISTRY,
    Codec,
    CurrentPlugin,
    ExplicitFunction,
    Function,
    Json,
    Memory,
    Pickle,
    TypeInferredFunction,
    Val,
    ValType,
    _convert_value,
    _param,
    _result,
    host_fn,
)
from ._logs import CustomLogger, set_log_custom, set_log_file
from ._plugin import CancelHandle, CompiledPlugin, Plugin


class _Base64Encoder(json.JSONEncoder):
    """JSON encoder that writes bytes as base64 text (a manifest's `data`)."""

    def default(self, o: Any) -> Any:
        if isinstance(o, bytes):
            return b64encode(o).decode()
        return json.JSONEncoder.default(self, o)


def _wasm(plugin: Any) -> Any:
    """What the SDK hands its native library: a file's bytes, text as UTF-8, a dict as JSON."""
    if isinstance(plugin, str) and os.path.exists(plugin):
        with open(plugin, "rb") as f:
            return f.read()
    if isinstance(plugin, str):
        return plugin.encode()
    if isinstance(plugin, dict):
        return json.dumps(plugin, cls=_Base64Encoder).encode()
    return plugin


class _ExtismFunctionMetadata:
    """A host function made ready to link: `pointer` is its native callback.

    The callback is shared with every plug-in that links the function and
    held until this object is deleted (or `__del__` is called), as the SDK's
    metadata holds its native function until `extism_function_free`.
    """

    def __init__(self, f: Function) -> None:
        if not isinstance(f, Function):
            raise TypeError(f"expected a host function (Function), got {type(f).__name__}")
        self.function = f
        self._token, self.pointer = _callpath.hold_host_callback(
            f._impl, f.params_types, f.results_types)

    def __del__(self) -> None:
        if getattr(self, "pointer", None) is None:
            return
        self.pointer = None
        _callpath.release_host_callback(self._token)


def _map_arg(arg_name: str, xs: Any) -> tuple[ValType, Callable[[Any, Any], Any]]:
    """The Wasm type of a parameter annotated `xs`, and `extract(current_plugin, slot)`."""
    valtype, decode = _param(arg_name, xs)
    return valtype, lambda plugin, slot: decode(_plugin_of(plugin), _raw(slot))


def _map_ret(xs: Any) -> list[tuple[ValType, Callable[[Any, Any, Any], Any]]]:
    """For a return annotation `xs`: (Wasm type, `emplace(current_plugin, slot, value)`) each."""
    def emplacer(encode: Callable[[Any, Any], Any]) -> Callable[[Any, Any, Any], Any]:
        def emplace(plugin: Any, slot: Val, value: Any) -> None:
            slot.value = encode(_plugin_of(plugin), value)
        return emplace
    return [(valtype, emplacer(encode)) for valtype, encode in _result(xs)]


def _plugin_of(current: Any) -> Any:
    return current._state if isinstance(current, CurrentPlugin) else current


def _raw(slot: Any) -> Any:
    return slot.value if isinstance(slot, Val) else slot


def _convert_output(x: Any, v: Val) -> None:
    """Store `Val` `v` into the tagged value record `x` (`x.t`, `x.v.i32` ...)."""
    if v.t.value != x.t:
        raise Error(f"Output type mismatch, got {v.t} but expected {x.t}")
    field, cast = {0: ("i32", int), 1: ("i64", int), 2: ("f32", float),
                   3: ("f64", float)}.get(x.t, (None, None))
    if field is None or cast is None:
        raise Error(f"Unsupported return type: {x.t}")
    setattr(x.v, field, cast(v.value))


def handle_args(current: Any, inputs: Sequence[Any], n_inputs: int, outputs: Sequence[Any],
                n_outputs: int, user_data: Sequence[Any] | None) -> None:
    """The SDK's single host-function trampoline, for tagged value records.

    The last element of `user_data` is the 4-byte big-endian index of the
    function in `HOST_FN_REGISTRY` (as `host_fn` numbers them in the SDK);
    the function runs with the `Val`s of `inputs` and fills `outputs`.
    """
    params: list[Any] = [_convert_value(inputs[i]) for i in range(n_inputs)]
    results: list[Any] = [_convert_value(outputs[i]) for i in range(n_outputs)]
    extra = list(user_data or [])
    if not extra:
        raise Error("handle_args: user_data must end with the function's registry index")
    index = int.from_bytes(extra.pop(), byteorder="big")
    fn = HOST_FN_REGISTRY[index]
    plugin = current if isinstance(current, CurrentPlugin) else CurrentPlugin(current)
    fn._call_with_vals(plugin, params, results, *extra)
    for i in range(n_outputs):
        _convert_output(outputs[i], results[i])


__all__ = [
    "HOST_FN_REGISTRY", "CancelHandle", "Codec", "CompiledPlugin", "CurrentPlugin",
    "CustomLogger", "Error", "ExplicitFunction", "Function", "Json", "Memory", "Pickle",
    "Plugin", "TypeInferredFunction", "Val", "ValType", "_Base64Encoder",
    "_ExtismFunctionMetadata", "_convert_output", "_convert_value", "_map_arg", "_map_ret",
    "_wasm", "extism_version", "handle_args", "host_fn", "set_log_custom", "set_log_file",
]
