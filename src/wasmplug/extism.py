"""The names the `extism` SDK keeps in its `extism.extism` submodule.

So that `import wasmplug as extism` also serves code (and tests) that reach
into `extism.extism`, e.g. `extism.extism.CompiledPlugin`.
"""

from . import extism_version
from .errors import Error
from .host_functions import (
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
    host_fn,
)
from .logs import set_log_custom, set_log_file
from .plugin import CancelHandle, CompiledPlugin, Plugin

__all__ = [
    "HOST_FN_REGISTRY", "CancelHandle", "Codec", "CompiledPlugin", "CurrentPlugin", "Error",
    "ExplicitFunction", "Function", "Json", "Memory", "Pickle", "Plugin", "TypeInferredFunction",
    "Val", "ValType", "_convert_value", "extism_version", "host_fn", "set_log_custom",
    "set_log_file",
]
