"""`_records.record`: the core's record types behave as the dataclasses they were, without `dataclasses`.

Each public record is compared with the dataclass `@dataclass` makes of the same
fields: construction (positional, keyword, defaults, factories, errors), repr,
equality, hashing, frozenness, `dataclasses.replace` / `asdict` / `fields`,
`inspect.signature`, `__match_args__`, pickling.
"""

from __future__ import annotations

import copy
import dataclasses
import inspect
import pickle
from typing import Any

import pytest

from wasmplug import (
    LoadLimits,
    Manifest,
    ManifestError,
    MemoryOptions,
    WasiOptions,
    WasmData,
    WasmFile,
    WasmUrl,
)
from wasmplug._engine import EngineSettings
from wasmplug._records import factory, record
from wasmplug.binary import ModuleFacts

PUBLIC = [WasmFile, WasmData, WasmUrl, MemoryOptions, Manifest, LoadLimits, WasiOptions, EngineSettings,
          ModuleFacts]


def twin(cls: type) -> Any:
    """The dataclass the record stands for (the one `dataclasses.fields` reports)."""
    return dataclasses.make_dataclass(cls.__name__, [
        (f.name, f.type, dataclasses.field(default=f.default, default_factory=f.default_factory))
        for f in dataclasses.fields(cls)], frozen=cls.__dataclass_params__.frozen)  # type: ignore[attr-defined]


@pytest.mark.parametrize("cls", PUBLIC)
def test_a_record_is_what_dataclasses_and_inspect_see(cls: type) -> None:
    assert dataclasses.is_dataclass(cls)
    assert inspect.signature(cls) == inspect.signature(twin(cls))
    assert cls.__match_args__ == tuple(f.name for f in dataclasses.fields(cls))  # type: ignore[attr-defined]


EXAMPLES: list[tuple[type, tuple[Any, ...], dict[str, Any]]] = [
    (WasmFile, ("a.wasm",), {"hash": "ab"}),
    (WasmData, (b"\0asm",), {}),
    (WasmUrl, ("https://example.com/a.wasm",), {"headers": {"a": "b"}}),
    (MemoryOptions, (), {"max_pages": 3}),
    (Manifest, ((WasmFile("a.wasm"),),), {"timeout_ms": 5, "config": {"k": "v"}}),
    (LoadLimits, (), {"max_modules": 2}),
    (WasiOptions, (), {"args": ("x",)}),
    (EngineSettings, (True,), {}),
]


@pytest.mark.parametrize("cls, args, kwargs", EXAMPLES)
def test_records_construct_compare_and_show_like_their_dataclass(
        cls: type, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    ours, theirs = cls(*args, **kwargs), twin(cls)(*args, **kwargs)
    assert repr(ours) == repr(theirs)
    assert dataclasses.asdict(ours) == dataclasses.asdict(theirs)
    assert ours == cls(*args, **kwargs) and ours != theirs  # another class is never equal
    last = dataclasses.fields(cls)[-1].name
    changed = dataclasses.replace(ours, **{last: "changed"})
    assert type(changed) is cls and getattr(changed, last) == "changed" and changed != ours
    assert dataclasses.replace(ours) == ours
    assert pickle.loads(pickle.dumps(ours)) == ours and copy.deepcopy(ours) == ours
    frozen = cls.__dataclass_params__.frozen
    if frozen and all(isinstance(v, str | int | float | bool | tuple | type(None) | bytes)
                      for v in dataclasses.astuple(ours)):
        assert hash(ours) == hash(cls(*args, **kwargs))
    name = dataclasses.fields(cls)[0].name
    with pytest.raises(dataclasses.FrozenInstanceError, match=f"cannot assign to field '{name}'"):
        setattr(ours, name, 1)
    with pytest.raises(dataclasses.FrozenInstanceError, match=f"cannot delete field '{name}'"):
        delattr(ours, name)


def test_defaults_factories_and_argument_errors() -> None:
    @record
    class Point:
        x: int
        y: int = 2
        tags: list[str] = factory(list)

    a, b = Point(1), Point(1)
    assert (a.x, a.y, a.tags) == (1, 2, []) and a.tags is not b.tags and a == b
    a.x = 5  # not frozen
    assert a.x == 5 and repr(a).endswith("Point(x=5, y=2, tags=[])")
    with pytest.raises(TypeError):
        hash(a)  # eq without frozen: unhashable, as a dataclass
    with pytest.raises(TypeError, match="missing 1 required positional argument: 'x'"):
        Point()  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="unexpected keyword argument 'z'"):
        Point(1, z=3)  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="multiple values for argument 'x'"):
        Point(1, x=2)  # type: ignore[misc]
    with pytest.raises(TypeError, match="takes 4 positional arguments but 5 were given"):
        Point(1, 2, [], 4)  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="non-default argument 'b' follows default argument"):
        @record
        class Wrong:
            a: int = 1
            b: int  # type: ignore[misc]


def test_post_init_runs() -> None:
    with pytest.raises(ManifestError, match="No wasm files specified"):
        Manifest(wasm=())
