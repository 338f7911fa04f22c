"""The value mapping, property-tested through real SQLite and a plug-in that echoes its input:
whatever SQL values go in, the plug-in sees exactly the documented bytes."""

from __future__ import annotations

import base64
import json
import sqlite3
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wasmplug.sql import SQLFunction, register

from .conftest import MISBEHAVING_WAT

INT64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)
FINITE = st.floats(allow_nan=False, allow_infinity=False)
TEXT = st.text(st.characters(exclude_categories=["Cs"]), max_size=50)  # SQLite text is UTF-8
SQL_VALUES = st.one_of(st.none(), INT64, FINITE, TEXT, st.binary(max_size=50))


@pytest.fixture(scope="module")
def conn(tmp_path_factory: pytest.TempPathFactory) -> sqlite3.Connection:
    wat = Path(tmp_path_factory.mktemp("wat")) / "echo.wat"
    wat.write_text(MISBEHAVING_WAT)
    connection = sqlite3.connect(":memory:")
    register(connection, wat, SQLFunction("echo_json", export="echo", nargs=-1, strict=False),
             SQLFunction("echo_text", export="echo"), SQLFunction("echo_blob", export="echo", returns="BLOB"))
    return connection


def _from_json(value: object) -> object:
    if isinstance(value, dict):
        return base64.b64decode(value["base64"])
    return value


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(SQL_VALUES, min_size=2, max_size=6))
def test_several_arguments_arrive_as_the_documented_json(conn: sqlite3.Connection,
                                                         values: list[object]) -> None:
    placeholders = ", ".join("?" * len(values))
    (echoed,) = conn.execute(f"SELECT echo_json({placeholders})", values).fetchone()
    assert [_from_json(v) for v in json.loads(echoed)] == values


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.one_of(INT64, FINITE, TEXT, st.binary(max_size=50)))
def test_one_argument_arrives_as_raw_bytes_or_decimal_text(conn: sqlite3.Connection, value: object) -> None:
    (echoed,) = conn.execute("SELECT echo_blob(?)", (value,)).fetchone()
    if isinstance(value, str):
        assert echoed == value.encode()
        assert conn.execute("SELECT echo_text(?)", (value,)).fetchone() == (value,)
    elif isinstance(value, bytes):
        assert echoed == value
    else:
        assert type(value)(echoed.decode()) == value  # decimal text that reads back exactly
