"""The `wasmplug` command line."""

from __future__ import annotations

import json
import subprocess
import sys

from click.testing import CliRunner

from wasmplug.cli import main

from .conftest import wasm


def test_call_prints_the_output() -> None:
    result = CliRunner().invoke(main, ["call", str(wasm("count_vowels")), "count_vowels",
                                       "--input", "Hello, world"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["count"] == 3


def test_call_with_config() -> None:
    result = CliRunner().invoke(main, ["call", str(wasm("host_env")), "config_get",
                                       "-c", "greeting=hi there", "--input", "greeting"])
    assert result.exit_code == 0 and result.output == "hi there\n"


def test_plugin_error_is_reported_with_exit_code_1() -> None:
    result = CliRunner().invoke(main, ["call", str(wasm("errors")), "fail_with_message",
                                       "--input", "nope"])
    assert result.exit_code == 1
    assert "Error: nope" in result.output


def test_missing_file_is_reported() -> None:
    result = CliRunner().invoke(main, ["call", "/no/such.wasm", "f"])
    assert result.exit_code == 3
    assert 'Unable to load Wasm file "/no/such.wasm"' in result.output


def test_info_lists_exports_and_imports() -> None:
    result = CliRunner().invoke(main, ["info", str(wasm("count_vowels"))])
    assert result.exit_code == 0
    assert "count_vowels" in result.output and "imports from extism:host/env" in result.output
    assert "var_set" in result.output


def test_installed_entry_point_runs() -> None:
    out = subprocess.run([sys.executable, "-m", "wasmplug", "call", str(wasm("echo")), "echo",
                          "--input", "via -m"], capture_output=True, text=True, check=True)
    assert out.stdout == "via -m\n"
