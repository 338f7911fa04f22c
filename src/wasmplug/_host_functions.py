"""User host functions: Python functions a plug-in can import (ABI.md section 8).

The API is the `extism` SDK's: the `host_fn` decorator (signatures explicit
or inferred from annotations), `Function`, `ValType`, `Val`, `Memory`,
`CurrentPlugin`, and the `Json` / `Pickle` / `Codec` annotation markers.

Two deliberate differences from the reference SDK, both where it is broken
(ABI.md 8.4): an inferred `int`, `float` or `bool` return value is returned
as that Wasm value (the reference writes `int`/`bool` into a memory block and
fails for `float`), and each element of a `Tuple[...]` return is encoded
from its own element of the returned tuple. An exception raised by a host
function fails the plug-in call with the exception's message (the reference
prints and swallows it); the exception is chained as the `CallError`'s cause.
"""

from __future__ import annotations

import ctypes
import functools
from collections.abc import Callable, Sequence
from enum import Enum
from typing import Any, get_args, get_origin, get_type_hints

from . import _host_env
from ._callpath import F32, F64, I32, I64
from ._errors import Error

DEFAULT_NAMESPACE = "extism:host/user"


class Json:
    """Marker: `Annotated[T, Json]` travels as a JSON string in kernel memory."""


class Pickle:
    """Marker: `Annotated[T, Pickle]` travels as pickled bytes in kernel memory."""


class Codec:
    """Marker: `Annotated[T, Codec(fn)]` travels as `fn(value)` bytes; `fn` decodes too."""

    def __init__(self, codec: Callable[[Any], Any]) -> None:
        self.codec = codec


class ValType(Enum):
    """Wasm value types of host function parameters and results."""

    PTR = 1  # declared first: I64 is an alias of PTR, as in the extism SDK
    I32 = 0
    I64 = 1
    F32 = 2
    F64 = 3
    V128 = 4
    FUNC_REF = 5
    EXTERN_REF = 6


_WASM_TYPE = {0: I32, 1: I64, 2: F32, 3: F64}
_CAST: dict[int, Callable[[Any], Any]] = {0: int, 1: int, 2: float, 3: float}


class Val:
    """A Wasm value: type `t` and `value`."""

    __slots__ = ("t", "value")

    def __init__(self, t: ValType, v: Any) -> None:
        self.t = t
        self.value = v

    def __repr__(self) -> str:
        return f"Val({self.t}, {self.value})"

    def _assign(self, v: Any) -> None:
        self.value = v


class Memory:
    """A block of kernel memory: `offset` and `length`."""

    __slots__ = ("length", "offset")

    def __init__(self, offs: int, length: int) -> None:
        self.offset = offs
        self.length = length

    def __len__(self) -> int:
        return self.length

    def __repr__(self) -> str:
        return f"Memory(offset={self.offset}, length={self.length})"


class CurrentPlugin:
    """The calling plug-in, as seen from inside a host function."""

    __slots__ = ("_state",)

    def __init__(self, state: _host_env.HostState) -> None:
        self._state = state

    @property
    def id(self) -> Any:
        return self._state.id.uuid()

    def memory(self, mem: Memory) -> Any:
        """A writable buffer over `mem` in kernel memory: `buf[:]` reads, `buf[:] = b` writes."""
        kernel = self._state.kernel
        kernel.check_range(mem.offset, mem.length)
        return (ctypes.c_char * mem.length).from_address(kernel.base + mem.offset)

    def alloc(self, size: int) -> Memory:
        """Allocate `size` bytes of kernel memory (offset 0 if it failed)."""
        return Memory(self._state.kernel.alloc(size), size)

    def free(self, mem: Memory) -> None:
        self._state.kernel.free(mem.offset)

    def memory_at_offset(self, offs: int | Val) -> Memory:
        """The block starting at `offs` (length 0 if there is none)."""
        offset: int = offs.value if isinstance(offs, Val) else offs
        return Memory(offset, self._state.kernel.length(offset))

    def return_bytes(self, output: Val, b: bytes) -> None:
        """Copy `b` into a new block and make `output` its offset (0 for empty bytes)."""
        output.value = self._state.kernel.alloc_bytes(bytes(b))

    def return_string(self, output: Val, s: str) -> None:
        self.return_bytes(output, s.encode("utf-8"))

    def input_buffer(self, input: Val) -> Any:
        return self.memory(self.memory_at_offset(input))

    def input_bytes(self, input: Val) -> bytes:
        offset = input.value if isinstance(input, Val) else input
        kernel = self._state.kernel
        return bytes(kernel.read(offset, kernel.length(offset)))

    def input_string(self, input: Val) -> str:
        return self.input_bytes(input).decode("utf-8")

    def host_context(self) -> Any:
        """The `host_context` object passed to `Plugin.call` (None if none)."""
        return self._state.host_context

    def set_error(self, message: str) -> None:
        """Set the plug-in's error: the call fails with exactly this text."""
        kernel = self._state.kernel
        kernel.set_error(kernel.alloc_bytes(message.encode("utf-8")))


class Function:
    """A host function: `f(current_plugin, params, results, *user_data)`.

    `args` / `returns` are `ValType` lists; `namespace=None` means
    `extism:host/user`. `f` receives the parameters as `Val`s and sets
    `results[i].value`.
    """

    def __init__(self, namespace: str | None, name: str, args: Sequence[ValType],
                 returns: Sequence[ValType], f: Callable[..., Any], *user_data: Any) -> None:
        self.namespace = namespace
        self.name = name
        self.args = [a.value for a in args]
        self.returns = [r.value for r in returns]
        self.f = f
        self.user_data = user_data
        for t in (*self.args, *self.returns):
            if t not in _WASM_TYPE:
                raise Error(f"host function {name}: only I32, I64, F32 and F64 values can cross "
                            f"into a host function, not {ValType(t).name}")
        # One stable callable per Function: the call path turns it into a
        # native callback once, however many plug-ins link it.
        self._impl = self._make_impl()

    @property
    def params_types(self) -> tuple[str, ...]:
        return tuple(_WASM_TYPE[a] for a in self.args)

    @property
    def results_types(self) -> tuple[str, ...]:
        return tuple(_WASM_TYPE[r] for r in self.returns)

    def _make_impl(self) -> Callable[..., Any]:
        arg_types = [ValType(a) for a in self.args]
        ret_types = [ValType(r) for r in self.returns]
        f, user_data, name = self.f, self.user_data, self.name
        active = _host_env.active

        def mismatch(got: ValType, expected: ValType) -> Error:
            return Error(f"Output type mismatch, got {got} but expected {expected} "
                         f"(host function {name})")

        if len(arg_types) == 1 and len(ret_types) == 1:  # the common shape, without the loops
            (t_in,), (t_out,) = arg_types, ret_types
            cast = _CAST[t_out.value]

            def impl_1_1(raw: Any) -> Any:
                results = [Val(t_out, 0)]
                f(CurrentPlugin(active()), [Val(t_in, raw)], results, *user_data)
                result = results[0]  # the function may have replaced the Val
                if result.t is not t_out and result.t.value != t_out.value:
                    raise mismatch(result.t, t_out)
                return cast(result.value)
            return impl_1_1

        def impl(*raw: Any) -> Any:
            plugin = active()
            params = [Val(t, v) for t, v in zip(arg_types, raw, strict=True)]
            results = [Val(t, 0) for t in ret_types]
            f(CurrentPlugin(plugin), params, results, *user_data)
            out = []
            for expected, val in zip(ret_types, results, strict=True):
                if val.t.value != expected.value:
                    raise mismatch(val.t, expected)
                out.append(_CAST[expected.value](val.value))
            if not out:
                return None
            return out[0] if len(out) == 1 else out
        return impl

    def _call_with_vals(self, current: CurrentPlugin, params: list[Val], results: list[Val],
                        *user_data: Any) -> None:
        """Run the function on `Val`s, filling `results` (the SDK's `handle_args` protocol)."""
        self.f(current, params, results, *user_data)

    def __repr__(self) -> str:
        return f"<host function {self.namespace or DEFAULT_NAMESPACE}.{self.name}>"


class ExplicitFunction(Function):
    """A `host_fn` with an explicit signature; calling it calls the Python function."""

    def __init__(self, namespace: str | None, name: str, args: Sequence[ValType],
                 returns: Sequence[ValType], func: Callable[..., Any],
                 user_data: Sequence[Any]) -> None:
        self.func = func
        super().__init__(namespace, name, args, returns, func, *user_data)
        functools.update_wrapper(self, func)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.func(*args, **kwargs)


# ------------------------------------------------------------------ inference

Decoder = Callable[[Any, Any], Any]        # (plugin, raw value) -> Python value
Encoder = Callable[[Any, Any], Any]        # (plugin, Python value) -> raw value


def _read(plugin: Any, offset: int) -> bytes:
    kernel = plugin.kernel
    return bytes(kernel.read(offset, kernel.length(offset)))


def _write(plugin: Any, data: bytes) -> int:
    return int(plugin.kernel.alloc_bytes(data))


def _codec_of(annotation: Any) -> Any:
    for item in getattr(annotation, "__metadata__", ()):
        if item is Json or item is Pickle or isinstance(item, Codec):
            return item
    return None


def _param(name: str, annotation: Any) -> tuple[ValType, Decoder]:
    if annotation is str:
        return ValType.I64, lambda p, v: _read(p, v).decode("utf-8")
    if annotation is bytes:
        return ValType.I64, _read
    if annotation is int:
        return ValType.I64, lambda p, v: v
    if annotation is float:
        return ValType.F64, lambda p, v: v
    if annotation is bool:
        return ValType.I32, lambda p, v: v
    codec = _codec_of(annotation)
    if codec is Json:
        import json  # (here: import wasmplug does without it)

        return ValType.I64, lambda p, v: json.loads(_read(p, v))
    if codec is Pickle:
        import pickle

        return ValType.I64, lambda p, v: pickle.loads(_read(p, v))
    if codec is not None:
        return ValType.I64, lambda p, v: codec.codec(_read(p, v))
    raise TypeError(f"Could not infer input type for argument {name}")


def _result(annotation: Any) -> list[tuple[ValType, Encoder]]:
    if annotation is str:
        return [(ValType.I64, lambda p, x: _write(p, x.encode("utf-8")))]
    if annotation is bytes:
        return [(ValType.I64, lambda p, x: _write(p, bytes(x)))]
    if annotation is int:
        return [(ValType.I64, lambda p, x: int(x))]
    if annotation is float:
        return [(ValType.F64, lambda p, x: float(x))]
    if annotation is bool:
        return [(ValType.I32, lambda p, x: int(bool(x)))]
    if get_origin(annotation) is tuple:
        return [item for element in get_args(annotation) for item in _result(element)]
    codec = _codec_of(annotation)
    if codec is Json:
        import json

        return [(ValType.I64, lambda p, x: _write(p, json.dumps(x).encode("utf-8")))]
    if codec is Pickle:
        import pickle

        return [(ValType.I64, lambda p, x: _write(p, pickle.dumps(x)))]
    if codec is not None:
        return [(ValType.I64, lambda p, x: _write(p, codec.codec(x)))]
    raise TypeError("Could not infer return type")


class TypeInferredFunction(ExplicitFunction):
    """A `host_fn` whose Wasm signature comes from the Python annotations."""

    def __init__(self, namespace: str | None, name: str, func: Callable[..., Any],
                 user_data: Sequence[Any]) -> None:
        hints = get_type_hints(func, include_extras=True)
        if not hints:
            raise TypeError("Host function must include Python type annotations or "
                            "explicitly list arguments.")
        returns = hints.pop("return", None)
        import inspect  # here: only annotated host functions need it
        # *args / **kwargs (typically *user_data) are not Wasm parameters.
        variadic = {p.name for p in inspect.signature(func).parameters.values()
                    if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD)}
        names = [n for n in hints if n not in variadic]
        self._wants_plugin = bool(names) and hints[names[0]] is CurrentPlugin
        if self._wants_plugin:
            names = names[1:]
        self._params = [_param(n, hints[n]) for n in names]
        self._results = [] if returns is None or returns is type(None) else _result(returns)
        self._tuple = get_origin(returns) is tuple
        super().__init__(namespace, name, [t for t, _ in self._params],
                         [t for t, _ in self._results], func, user_data)

    def _make_impl(self) -> Callable[..., Any]:
        func, user_data = self.func, self.user_data
        decoders = [decode for _, decode in self._params]
        encoders = [encode for _, encode in self._results]
        wants_plugin, is_tuple = self._wants_plugin, self._tuple

        def impl(*raw: Any) -> Any:
            plugin = _host_env.active()
            args = [decode(plugin, v) for decode, v in zip(decoders, raw, strict=True)]
            if wants_plugin:
                args.insert(0, CurrentPlugin(plugin))
            value = func(*args, *user_data)
            if not encoders:
                return None
            if is_tuple:
                return [encode(plugin, x) for encode, x in zip(encoders, value, strict=True)]
            return encoders[0](plugin, value)
        return impl

    def _call_with_vals(self, current: CurrentPlugin, params: list[Val], results: list[Val],
                        *user_data: Any) -> None:
        plugin = current._state
        args = [decode(plugin, v.value) for (_, decode), v in zip(self._params, params, strict=True)]
        if self._wants_plugin:
            args.insert(0, current)
        value = self.func(*args, *user_data)
        values = value if self._tuple else (value,)
        for (_, encode), slot, item in zip(self._results, results, values, strict=True):
            slot.value = encode(plugin, item)


HOST_FN_REGISTRY: list[Function] = []


def host_fn(name: str | None = None, namespace: str | None = None,
            signature: tuple[Sequence[ValType], Sequence[ValType]] | None = None,
            user_data: bytes | Sequence[bytes] | None = None
            ) -> Callable[[Callable[..., Any]], Function]:
    """Make a Python function callable by plug-ins.

    With `signature=([param ValTypes], [result ValTypes])` the function is
    called as `f(current_plugin, params, results, *user_data)`; without it the
    signature is inferred from the annotations (`str`, `bytes`, `int`,
    `float`, `bool`, `Annotated[T, Json | Pickle | Codec(fn)]`, a first
    parameter annotated `CurrentPlugin`, and `Tuple[...]` returns)::

        @wasmplug.host_fn()
        def greet(who: str) -> str:
            return f"hello {who}"

    Every decorated function joins the registry that `Plugin` links by
    default (as in the extism SDK); pass `functions=[...]` to choose.
    """
    if user_data is None:
        extra: list[Any] = []
    elif isinstance(user_data, bytes | bytearray):
        extra = [user_data]
    else:
        extra = list(user_data)

    def decorate(func: Callable[..., Any]) -> Function:
        fn_name = name or func.__name__
        fn: Function
        if signature is None:
            fn = TypeInferredFunction(namespace, fn_name, func, extra)
        else:
            fn = ExplicitFunction(namespace, fn_name, signature[0], signature[1], func, extra)
        HOST_FN_REGISTRY.append(fn)
        return fn
    return decorate


def _convert_value(x: Any) -> Val | None:
    """An SDK-compatible conversion of a tagged value record (`t`, `v.i32` ...)."""
    kind = {0: (ValType.I32, "i32"), 1: (ValType.I64, "i64"), 2: (ValType.F32, "f32"),
            3: (ValType.F64, "f64")}.get(x.t)
    if kind is None:
        return None
    return Val(kind[0], getattr(x.v, kind[1]))


__all__ = ["Codec", "CurrentPlugin", "ExplicitFunction", "Function", "Json", "Memory",
           "Pickle", "TypeInferredFunction", "Val", "ValType", "host_fn"]
