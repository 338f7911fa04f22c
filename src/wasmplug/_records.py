"""`@record`: what `@dataclass` gives the core's record types, without importing `dataclasses`.

`import dataclasses` imports `inspect` (and with it `ast`, `dis`, `tokenize`):
~28 M instructions in every new process, and each `@dataclass` then writes and
compiles the source of its methods at import (~2 M more each). The core's
records (the manifest's types, `WasiOptions`, `ModuleFacts`, the engine's
settings) need none of that. `@record` (and `@record(frozen=True)`) gives a
class what `@dataclass` would, with the same behaviour, from generic methods:
`__init__` (positional or keyword, defaults, `factory(...)` for
`field(default_factory=...)`, then `__post_init__`), `__repr__`, `__eq__`,
`__hash__` (frozen ones; the others are unhashable, as dataclasses), a frozen
`__setattr__` / `__delattr__` raising `dataclasses.FrozenInstanceError`, and
`__match_args__`.

The standard functions keep working on records — `dataclasses.fields`,
`replace`, `asdict`, `astuple`, `is_dataclass` — and so does
`inspect.signature`: `__dataclass_fields__`, `__dataclass_params__` and
`__signature__` are made on first access, by `dataclasses` itself, from a
twin dataclass of the same fields (`_FromTwin`). A program that uses them pays
for `dataclasses` then, not at `import wasmplug`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, cast, dataclass_transform, overload

__all__ = ["factory", "record"]

T = TypeVar("T")
_MISSING: Any = object()


class _Factory:
    """A default made by calling `make` for each new record (`field(default_factory=make)`)."""

    __slots__ = ("make",)

    def __init__(self, make: Callable[[], Any]) -> None:
        self.make = make


def factory(make: Callable[[], T]) -> T:
    """A field's default made anew for each record: `config: dict[str, str] = factory(dict)`."""
    return cast(T, _Factory(make))


@overload
def record(cls: type[T], /) -> type[T]: ...
@overload
def record(*, frozen: bool = False) -> Callable[[type[T]], type[T]]: ...


@dataclass_transform()  # type checkers see a dataclass
def record(cls: type[T] | None = None, /, *, frozen: bool = False) -> Any:
    """Make `cls` a record of its annotated fields (see the module doc)."""
    def wrap(cls: type[T]) -> type[T]:
        return _build(cls, frozen)
    return wrap if cls is None else wrap(cls)


def _is_class_var(annotation: object) -> bool:
    text = annotation if isinstance(annotation, str) else repr(annotation)
    return text.startswith(("ClassVar", "typing.ClassVar"))


def _build(cls: type[T], frozen: bool) -> type[T]:
    names: list[str] = []
    defaults: dict[str, Any] = {}
    own = cls.__dict__.get("__annotations__", {})  # noqa: RUF063 (the class's own, as dataclasses)
    for name, annotation in own.items():
        if _is_class_var(annotation):
            continue
        if name in cls.__dict__:
            defaults[name] = cls.__dict__[name]
            if isinstance(defaults[name], _Factory):
                delattr(cls, name)  # as dataclasses does with a field(default_factory=...)
        elif defaults:
            raise TypeError(f"non-default argument {name!r} follows default argument")
        names.append(name)
    fields = tuple(names)
    qualname = cls.__qualname__
    post_init = getattr(cls, "__post_init__", None)

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        if len(args) > len(fields):
            raise TypeError(f"{qualname}.__init__() takes {len(fields) + 1} positional arguments "
                            f"but {len(args) + 1} were given")
        values = dict(zip(fields, args, strict=False))
        for key, value in kwargs.items():
            if key not in defaults and key not in fields:
                raise TypeError(f"{qualname}.__init__() got an unexpected keyword argument {key!r}")
            if key in values:
                raise TypeError(f"{qualname}.__init__() got multiple values for argument {key!r}")
            values[key] = value
        state = self.__dict__
        for name in fields:
            if name in values:
                state[name] = values[name]
                continue
            default = defaults.get(name, _MISSING)
            if default is _MISSING:
                raise TypeError(f"{qualname}.__init__() missing 1 required positional argument: "
                                f"{name!r}")
            state[name] = default.make() if isinstance(default, _Factory) else default
        if post_init is not None:
            self.__post_init__()

    def __repr__(self: Any) -> str:
        shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in fields)
        return f"{self.__class__.__qualname__}({shown})"

    def __eq__(self: Any, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return all(getattr(self, name) == getattr(other, name) for name in fields)

    methods: dict[str, Any] = {"__init__": __init__, "__repr__": __repr__, "__eq__": __eq__,
                               "__match_args__": fields}
    if "__hash__" not in cls.__dict__:
        methods["__hash__"] = (lambda self: hash(tuple(getattr(self, n) for n in fields))
                               ) if frozen else None
    if frozen:
        def __setattr__(self: Any, name: str, value: Any) -> None:
            if type(self) is cls or name in fields:
                _frozen(name)
            super(cls, self).__setattr__(name, value)

        def __delattr__(self: Any, name: str) -> None:
            if type(self) is cls or name in fields:
                _frozen(name, "delete")
            super(cls, self).__delattr__(name)

        methods.update(__setattr__=__setattr__, __delattr__=__delattr__)
    for name, method in methods.items():
        if callable(method):
            method.__qualname__ = f"{qualname}.{name}"
        setattr(cls, name, method)
    twin = _Twin(cls, fields, defaults, frozen)
    for attribute in ("__dataclass_fields__", "__dataclass_params__", "__signature__"):
        setattr(cls, attribute, _FromTwin(twin, attribute))
    return cls


def _frozen(name: str, what: str = "assign to") -> None:
    import dataclasses

    raise dataclasses.FrozenInstanceError(f"cannot {what} field {name!r}")


class _Twin:
    """The dataclass `@dataclass` would have made of the same fields, made on first use."""

    def __init__(self, cls: type, fields: tuple[str, ...], defaults: dict[str, Any],
                 frozen: bool) -> None:
        self.cls, self.fields, self.defaults, self.frozen = cls, fields, defaults, frozen
        self._made: type | None = None

    def get(self) -> type:
        if self._made is None:
            import dataclasses

            annotations = self.cls.__dict__["__annotations__"]  # noqa: RUF063
            spec: list[tuple[str, Any] | tuple[str, Any, Any]] = []
            for name in self.fields:
                default = self.defaults.get(name, _MISSING)
                if default is _MISSING:
                    spec.append((name, annotations[name]))
                elif isinstance(default, _Factory):
                    spec.append((name, annotations[name], dataclasses.field(default_factory=default.make)))
                else:
                    spec.append((name, annotations[name], dataclasses.field(default=default)))
            self._made = dataclasses.make_dataclass(self.cls.__name__, spec, frozen=self.frozen)
        return self._made


class _FromTwin:
    """A class attribute (`__dataclass_fields__`, ...) taken from the twin on first access."""

    def __init__(self, twin: _Twin, attribute: str) -> None:
        self.twin, self.attribute = twin, attribute

    def __get__(self, obj: object, owner: type) -> Any:
        if self.attribute == "__signature__":
            import inspect

            return inspect.signature(self.twin.get())
        value = getattr(self.twin.get(), self.attribute)
        setattr(self.twin.cls, self.attribute, value)  # from now on a plain class attribute
        return value
