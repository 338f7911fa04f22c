"""`wasmplug ext check | capabilities | call | bench`."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from click.testing import CliRunner

from wasmplug.cli import main

from .conftest import entry


def _run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["ext", *args], env={"COLUMNS": "250"})
    return result.exit_code, result.output


def test_check_prints_a_status_table(write_config: Callable[..., Path]) -> None:
    path = write_config(entry("transform", "transform"), entry("stats", "stats"))
    code, output = _run("check", str(path))
    assert code == 0, output
    assert "transform" in output and "stats" in output and output.count("ready") == 2
    assert "transform, info" in output and "stats, info" in output


def test_check_exits_1_when_an_extension_failed(write_config: Callable[..., Path]) -> None:
    code, output = _run("check", str(write_config(entry("transform", "transform"),
                                                  entry("bad", "init_fails"))))
    assert code == 1
    assert "failed" in output and "cannot open the optimizer" in output


def test_check_exits_2_on_a_configuration_error(tmp_path: Path) -> None:
    path = tmp_path / "x.toml"
    path.write_text('[[extensions]]\nname = "a"\n')
    code, output = _run("check", str(path))
    assert code == 2
    assert "error:" in output and "key 'source'" in output and "'a'" in output


def test_capabilities_table_and_json(write_config: Callable[..., Path]) -> None:
    path = write_config(entry("transform", "transform"), entry("stats", "stats"))
    code, output = _run("capabilities", str(path))
    assert code == 0 and "Transforms an IR" in output and "params/return" in output
    code, output = _run("capabilities", str(path), "--json")
    listed = json.loads(output)
    assert [c["name"] for c in listed["transform"]] == ["transform", "info"]
    assert listed["transform"][0]["params_schema"]["required"] == ["ir"]


def test_call_prints_the_json_result(write_config: Callable[..., Path]) -> None:
    path = write_config(entry("transform", "transform"))
    code, output = _run("call", str(path), "transform", "transform", "--params", '{"ir": [1, "é"]}')
    assert code == 0, output
    assert json.loads(output) == {"transformed": True, "output": [1, "é"]}


def test_call_errors(write_config: Callable[..., Path]) -> None:
    path = write_config(entry("transform", "transform"), entry("unruly", "unruly"))
    code, output = _run("call", str(path), "transform", "transform", "--params", "{}")
    assert code == 1 and "InvalidParams" in output
    code, output = _run("call", str(path), "unruly", "fail")
    assert code == 1 and "ExtensionCallFailed: the optimizer rejected this IR" in output
    code, output = _run("call", str(path), "nope", "x")
    assert code == 1 and "ExtensionNotFound" in output
    code, output = _run("call", str(path), "transform", "transform", "--params", "{not json")
    assert code == 2 and "not JSON" in output


def test_bench_prints_calls_per_second_and_latencies(write_config: Callable[..., Path]) -> None:
    path = write_config(entry("transform", "transform"))
    code, output = _run("bench", str(path), "transform", "transform", "--params", '{"ir": 1}',
                        "--seconds", "0.2")
    assert code == 0, output
    for label in ("calls/s", "p50 (ms)", "p99 (ms)"):
        assert label in output
    assert "transform.transform:" in output
    code, output = _run("bench", str(path), "transform", "transform", "--params", "{}")
    assert code == 1 and "InvalidParams" in output
