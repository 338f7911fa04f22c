"""Our own ctypes bindings to the wasmtime wheel's libwasmtime.

The core talks to the engine through this package, never through the
`wasmtime` Python package (whose import costs a new process ~40 ms: it loads
its whole API and declares every C function). The wheel stays the engine and
the dependency: its shared library is loaded (`_lib`), and each C function is
declared the first time it is called, so a one-shot process declares only
what it uses.

The names are a compatible subset of wasmtime-py's, limited to what the core
needs: `Config`, `Engine`, `Module`, `wat2wasm` (`_engine`); `Store`,
`WasiConfig` (`_store`); `Linker` (`_linker`); `Func`, `FuncType`, `ValType`,
`Val`, `Memory`, `Global`, `Instance`, `Caller` (`_objects`); `Trap`,
`WasmtimeError`, `ExitTrap` (`_errors`). Differences: items' addresses are
integers (`Memory.data_ptr`), `Instance.exports` is a dict, host functions
take and return numbers only, and exceptions own no native memory.
"""

from ._engine import Config, Engine, Module, wat2wasm
from ._errors import ExitTrap, Trap, WasmtimeError
from ._lib import package_dir
from ._linker import Linker
from ._objects import Caller, Extern, Func, FuncType, Global, Instance, Memory, Table, Val, ValType
from ._store import Store, WasiConfig

__all__ = [
    "Caller", "Config", "Engine", "ExitTrap", "Extern", "Func", "FuncType", "Global", "Instance",
    "Linker", "Memory", "Module", "Store", "Table", "Trap", "Val", "ValType", "WasiConfig",
    "WasmtimeError", "package_dir", "wat2wasm",
]
