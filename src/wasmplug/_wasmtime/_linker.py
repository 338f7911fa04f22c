"""Linkers: definitions by name, and instantiation of modules against them."""

from __future__ import annotations

import ctypes
import sys
from collections.abc import Callable
from typing import Any

from ._engine import Engine, Module
from ._errors import check, raise_failure
from ._held import RELEASE, hold
from ._lib import lib
from ._objects import Extern, FuncType, Instance, Storelike, _address, host_callback


class Linker:
    """A wasmtime linker; `__del__` frees it once."""

    _ptr: int = 0

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._ptr = lib.wasmtime_linker_new(engine._ptr)

    def clone(self) -> Linker:
        """A copy with every definition (callbacks shared)."""
        copy: Linker = Linker.__new__(Linker)
        copy.engine = self.engine
        copy._ptr = lib.wasmtime_linker_clone(self._ptr)
        return copy

    def set_allow_shadowing(self, allow: bool) -> None:
        lib.wasmtime_linker_allow_shadowing(self._ptr, bool(allow))

    allow_shadowing = property(None, set_allow_shadowing)

    def define_wasi(self) -> None:
        check(lib.wasmtime_linker_define_wasi(self._ptr))

    def define_func(self, module: str, name: str, ty: FuncType, func: Callable[..., Any],
                    access_caller: bool = False) -> None:
        """Define a host function: `func(*numbers)` (`func(caller, *numbers)`)."""
        callback = host_callback(func, [t.kind for t in ty.params], [t.kind for t in ty.results],
                                 access_caller)
        self.define_raw(module, name, ty._new(), _address(callback), hold(callback), RELEASE,
                        own_type=True)

    def define_raw(self, module: str, name: str, functype: int, callback: int, env: int,
                   finalizer: int, own_type: bool = False) -> None:
        """`wasmtime_linker_define_func_unchecked` (the type deleted after if `own_type`)."""
        m, n = module.encode("utf-8"), name.encode("utf-8")
        try:
            error = lib.wasmtime_linker_define_func_unchecked(self._ptr, m, len(m), n, len(n), functype,
                                                               callback, env, finalizer)
        finally:
            if own_type:
                lib.wasm_functype_delete(functype)
        check(error)

    def define(self, store: Storelike, module: str, name: str, item: Extern) -> None:
        m, n = module.encode("utf-8"), name.encode("utf-8")
        check(lib.wasmtime_linker_define(self._ptr, store._context(), m, len(m), n, len(n),
                                         item._extern()))

    def define_instance(self, store: Storelike, name: str, instance: Instance) -> None:
        n = name.encode("utf-8")
        check(lib.wasmtime_linker_define_instance(self._ptr, store._context(), n, len(n),
                                                  instance._addr))

    def define_module(self, store: Storelike, name: str, module: Module) -> None:
        n = name.encode("utf-8")
        check(lib.wasmtime_linker_module(self._ptr, store._context(), n, len(n), module._ptr))

    def instantiate(self, store: Storelike, module: Module) -> Instance:
        instance = Instance()
        trap = ctypes.c_void_p()
        error = lib.wasmtime_linker_instantiate(self._ptr, store._context(), module._ptr,
                                                instance._addr, ctypes.addressof(trap))
        if error or trap.value:
            raise_failure(error, trap.value)
        return instance

    def __del__(self) -> None:
        if self._ptr and not sys.is_finalizing():
            lib.wasmtime_linker_delete(self._ptr)
            self._ptr = 0
