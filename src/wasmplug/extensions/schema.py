"""JSON-schema validation of params and results, compiled once per schema.

Uses `fastjsonschema` (the `wasmplug[extensions]` extra), which turns a schema
into Python code: validating a small object costs a few microseconds. Compiled
validators are shared by every extension (and every reload) using the same schema.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

from .. import Error

Validator = Callable[[Any], object]

_compiled: dict[str, Validator] = {}
_lock = threading.Lock()


class SchemaError(Error):
    """A schema that cannot be compiled, or a value that does not match one."""


def _fastjsonschema() -> Any:
    try:
        import fastjsonschema
    except ImportError:
        raise Error("validating extension schemas needs fastjsonschema: "
                    "pip install 'wasmplug[extensions]'") from None
    return fastjsonschema


def compile_schema(schema: Any) -> Validator:
    """A validator for `schema`, raising `SchemaError` with the reason for bad values."""
    key = json.dumps(schema, sort_keys=True)
    found = _compiled.get(key)
    if found is not None:
        return found
    fastjsonschema = _fastjsonschema()
    try:
        check = fastjsonschema.compile(schema)
    except (fastjsonschema.JsonSchemaDefinitionException, TypeError, ValueError) as exc:
        raise SchemaError(f"invalid JSON schema: {exc}") from None
    invalid = fastjsonschema.JsonSchemaValueException

    def validate(value: Any) -> object:
        try:
            return check(value)
        except invalid as exc:
            raise SchemaError(exc.message) from None

    with _lock:
        return _compiled.setdefault(key, validate)
