"""The host environment: config, vars, logs (ABI.md sections 2, 10)."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import textwrap

import pytest

from wasmplug import CallError, ManifestError, Plugin
from wasmplug._http import host_allowed

from .conftest import ROOT, wasm

pytestmark = pytest.mark.usefixtures("call_path")

HOST_ENV = wasm("host_env")


def test_config_from_manifest_and_constructor() -> None:
    plugin = Plugin({"wasm": [{"path": str(HOST_ENV)}], "config": {"a": "1", "b": "2"}},
                    config={"b": "two", "c": "3", "a": None})
    assert plugin.call("config_get", "b") == b"two"
    assert plugin.call("config_get", "c") == b"3"
    assert plugin.call("config_get", "a") == b""  # removed by the update
    assert plugin.call("config_get", "missing") == b""


def test_config_changes_behaviour() -> None:
    plugin = Plugin(wasm("count_vowels").read_bytes(), config={"vowels": "h"})
    assert json.loads(plugin.call("count_vowels", "hello world"))["count"] == 1


def test_config_update_rejects_non_strings() -> None:
    with pytest.raises(ManifestError, match="config must be an object"):
        Plugin(HOST_ENV.read_bytes(), config={"n": 1})


def test_vars_persist_across_calls_and_are_per_plugin() -> None:
    plugin = Plugin(wasm("count_vowels").read_bytes())
    totals = [json.loads(plugin.call("count_vowels", "hello world"))["total"] for _ in range(3)]
    assert totals == [3, 6, 9]
    other = Plugin(wasm("count_vowels").read_bytes())
    assert json.loads(other.call("count_vowels", "hello world"))["total"] == 3


def test_var_set_get_delete() -> None:
    plugin = Plugin(HOST_ENV.read_bytes())
    plugin.call("var_set", "k=value bytes")
    assert plugin.call("var_get", "k") == b"value bytes"
    assert plugin.vars == {"k": b"value bytes"}
    plugin.call("var_set", "k=")
    assert plugin.call("var_get", "k") == b""
    assert plugin.vars == {}
    assert [plugin.call("counter", b"") for _ in range(3)] == [b"1", b"2", b"3"]


def test_var_store_is_bounded_by_max_var_bytes() -> None:
    manifest = {"wasm": [{"path": str(HOST_ENV)}], "memory": {"max_var_bytes": 200}}
    plugin = Plugin(manifest)
    plugin.call("var_set", "a=" + "x" * 100)  # 48 + 1 + 100 = 149
    with pytest.raises(CallError, match=r"^Variable store is full.*200"):
        plugin.call("var_set", "b=" + "y" * 10)  # 149 + 59 > 200
    assert plugin.call("var_get", "a") == b"x" * 100  # nothing lost
    plugin.call("var_set", "a=")  # delete frees the room
    plugin.call("var_set", "b=" + "y" * 10)
    assert plugin.call("var_get", "b") == b"y" * 10


def test_var_limit_one_byte_still_allows_delete() -> None:
    plugin = Plugin({"wasm": [{"path": str(HOST_ENV)}], "memory": {"max_var_bytes": 1}})
    with pytest.raises(CallError, match="Variable store is full"):
        plugin.call("var_set", "k=" + "v" * 1024)
    plugin.call("var_set", "k=")  # a delete never needs room


def test_vars_disabled() -> None:
    plugin = Plugin({"wasm": [{"path": str(HOST_ENV)}], "memory": {"max_var_bytes": 0}})
    with pytest.raises(CallError, match=r"^Vars are disabled by this host$"):
        plugin.call("var_set", "k=v")
    with pytest.raises(CallError, match=r"^Vars are disabled by this host$"):
        plugin.call("var_set", "k=")


def test_plugin_logs_reach_the_logging_module(caplog: pytest.LogCaptureFixture) -> None:
    plugin = Plugin(HOST_ENV.read_bytes())
    with caplog.at_level(logging.INFO, logger="wasmplug.plugin"):
        plugin.call("log", "info:hello from wasm")
        plugin.call("log", "error:bad news")
        plugin.call("log", "debug:too verbose")
    records = [(r.levelno, r.getMessage(), r.plugin_id) for r in caplog.records  # type: ignore[attr-defined]
               if r.name == "wasmplug.plugin"]
    assert records == [(logging.INFO, "hello from wasm", str(plugin.id)),
                       (logging.ERROR, "bad news", str(plugin.id))]


def test_log_level_seen_by_plugins(caplog: pytest.LogCaptureFixture) -> None:
    from wasmplug import _logs

    with caplog.at_level(logging.WARNING, logger="wasmplug.plugin"):
        assert _logs.abi_log_level() == 3
    with caplog.at_level(_logs.TRACE, logger="wasmplug.plugin"):
        assert _logs.abi_log_level() == 0


def test_logging_off_by_default_in_a_fresh_process() -> None:
    code = textwrap.dedent("""
        import wasmplug
        from wasmplug import _logs
        print(_logs.abi_log_level())
        lines = []
        sink = wasmplug.set_log_custom(lines.append, "info")
        print(_logs.abi_log_level())
        p = wasmplug.Plugin(open(HOST_ENV, "rb").read())
        p.call("log", "info:shown")
        p.call("log", "debug:hidden")
        sink.drain()
        print(len(lines), "shown" in lines[0], lines[0].endswith("\\n"))
    """).replace("HOST_ENV", repr(str(HOST_ENV)))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=ROOT).stdout.split()
    assert out == ["2147483647", "2", "1", "True", "True"]


def test_set_log_file_writes_plugin_messages(tmp_path: object) -> None:
    log_file = f"{tmp_path}/plugin.log"
    code = textwrap.dedent("""
        import wasmplug
        wasmplug.set_log_file(LOG_FILE, "warn")
        p = wasmplug.Plugin(open(HOST_ENV, "rb").read())
        p.call("log", "warn:careful")
        p.call("log", "info:not written")
    """).replace("LOG_FILE", repr(log_file)).replace("HOST_ENV", repr(str(HOST_ENV)))
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)
    with open(log_file) as f:
        text = f.read()
    assert "careful" in text and "WARNING" in text and "not written" not in text


def test_allowed_hosts_globs() -> None:
    assert host_allowed("api.example.com", ("*.example.com",))
    assert not host_allowed("example.com", ("*.example.com",))
    assert host_allowed("anything", ("*",))
    assert host_allowed("a1.x", ("a?.x",)) and not host_allowed("a12.x", ("a?.x",))
    assert host_allowed("b.x", ("[abc].x",)) and not host_allowed("d.x", ("[abc].x",))
    assert host_allowed("d.x", ("[!abc].x",))
    assert host_allowed("[bad", ("[bad",))  # not a valid glob: exact match
    assert not host_allowed("Example.com", ("example.com",))
    assert not host_allowed("x", None) and not host_allowed("x", ())
