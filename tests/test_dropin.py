"""wasmplug as a drop-in for the official `extism` SDK: what code written for
the SDK reaches (`extism.extism` names, call inputs, WASI output, runtime log
events) behaves as it does under the SDK. The SDK itself is in the test extra,
so several tests compare against it directly."""

from __future__ import annotations

import gc
import json
import os
import re
import subprocess
import sys
import textwrap
import types
import weakref
from pathlib import Path
from typing import Any

import extism as sdk
import extism.extism as sdk_module
import pytest

import wasmplug
import wasmplug.extism as ours
from wasmplug import _runtime_events

from .conftest import ROOT, wasm

# The SDK's handles on its native library: wasmplug has none.
NATIVE_ONLY = {"_lib", "_ffi"}


def sdk_defined_names() -> set[str]:
    """Every name extism.extism defines itself (not the modules and typing names it imports)."""
    names = set()
    for name, value in vars(sdk_module).items():
        if name.startswith("__") or name in NATIVE_ONLY or isinstance(value, types.ModuleType):
            continue
        module = getattr(value, "__module__", None)
        if module == "extism.extism" or name in ("HOST_FN_REGISTRY", "handle_args"):
            names.add(name)
    return names


# ----------------------------------------------------------- extism.extism names


def test_every_name_of_extism_extism_is_in_wasmplug_extism() -> None:
    names = sdk_defined_names()
    assert {"_ExtismFunctionMetadata", "TypeInferredFunction", "CompiledPlugin",
            "handle_args", "_convert_output", "_map_arg", "_wasm"} <= names
    missing = sorted(n for n in names if not hasattr(ours, n))
    assert missing == []
    for name in names:  # a class where the SDK has a class, a function where it has one
        assert isinstance(getattr(ours, name), type) == isinstance(getattr(sdk_module, name), type), name
        if callable(getattr(sdk_module, name)):
            assert callable(getattr(ours, name)), name
    # and through `import wasmplug as extism`
    assert wasmplug.extism.TypeInferredFunction is ours.TypeInferredFunction


def test_sdk_test_suite_imports_work() -> None:
    code = ("from wasmplug.extism import CompiledPlugin, _ExtismFunctionMetadata, "
            "TypeInferredFunction\nprint(CompiledPlugin.__name__)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "CompiledPlugin"


def test_function_metadata_holds_the_native_callback_until_deleted() -> None:
    def test_host_fn(inp: str) -> str:
        return inp

    func = ours.TypeInferredFunction(None, "test_func", test_host_fn, [])
    metadata = ours._ExtismFunctionMetadata(func)
    assert metadata.pointer is not None
    held = weakref.ref(metadata.pointer)
    metadata.__del__()
    assert metadata.pointer is None  # as the SDK's own test checks
    gc.collect()
    assert held() is None  # and what it held is gone
    metadata.__del__()  # a second call (then the finaliser) is harmless

    again = ours._ExtismFunctionMetadata(func)
    held = weakref.ref(again.pointer)
    del again
    gc.collect()
    assert held() is None


def test_function_metadata_shares_the_callback_with_linked_plugins() -> None:
    @wasmplug.host_fn(name="hello_world")
    def hello(name: str) -> str:
        return f"Hello, {name}!"

    metadata = ours._ExtismFunctionMetadata(hello)
    held = weakref.ref(metadata.pointer)
    plugin = wasmplug.Plugin(wasm("wat/greet"), functions=[hello])
    assert plugin.call("greet", "you") == b"Hello, you!"
    del metadata
    gc.collect()
    assert plugin.call("greet", "again") == b"Hello, again!"  # still linked
    plugin.close()
    del plugin
    gc.collect()
    assert held() is None
    with pytest.raises(TypeError, match="expected a host function"):
        ours._ExtismFunctionMetadata(len)  # type: ignore[arg-type]


def test_wasm_and_base64_encoder_match_the_sdk(tmp_path: Path) -> None:
    path = tmp_path / "module.wasm"
    path.write_bytes(b"\0asm\1\0\0\0")
    manifest = {"wasm": [{"data": b"\0asm\1\0\0\0"}], "timeout_ms": 5}
    for value in (str(path), '{"wasm": []}', manifest, b"\0asm"):
        assert ours._wasm(value) == sdk_module._wasm(value)
    assert (json.dumps({"a": b"\xff"}, cls=ours._Base64Encoder)
            == json.dumps({"a": b"\xff"}, cls=sdk_module._Base64Encoder))
    with pytest.raises(TypeError):
        json.dumps({"a": object()}, cls=ours._Base64Encoder)


def test_map_arg_and_map_ret_inside_an_explicit_host_function() -> None:
    assert ours._map_arg("x", int)[0] is wasmplug.ValType.I64
    assert ours._map_arg("x", float)[0] is wasmplug.ValType.F64
    assert [t for t, _ in ours._map_ret(tuple[int, bool])] == [wasmplug.ValType.I64,
                                                               wasmplug.ValType.I32]
    with pytest.raises(TypeError, match="Could not infer input type for argument x"):
        ours._map_arg("x", object)
    _, extract = ours._map_arg("name", str)
    _, emplace = ours._map_ret(str)[0]

    @wasmplug.host_fn(name="hello_world",
                      signature=([wasmplug.ValType.I64], [wasmplug.ValType.I64]))
    def hello(plugin: wasmplug.CurrentPlugin, params: list[wasmplug.Val],
              results: list[wasmplug.Val]) -> None:
        emplace(plugin, results[0], extract(plugin, params[0]).upper())

    plugin = wasmplug.Plugin(wasm("wat/greet"), functions=[hello])
    assert plugin.call("greet", "shout") == b"SHOUT"


class Record:
    """The shape of the SDK's ExtismVal: `t` and a union `v` with i32/i64/f32/f64."""

    def __init__(self, t: int, **value: Any) -> None:
        self.t = t
        self.v = types.SimpleNamespace(**{"i32": 0, "i64": 0, "f32": 0.0, "f64": 0.0, **value})


def test_handle_args_dispatches_through_the_registry() -> None:
    @wasmplug.host_fn(signature=([wasmplug.ValType.I64, wasmplug.ValType.I64],
                                 [wasmplug.ValType.I64]))
    def add(plugin: Any, params: list[wasmplug.Val], results: list[wasmplug.Val],
            *user_data: Any) -> None:
        results[0].value = params[0].value + params[1].value + len(user_data)

    @wasmplug.host_fn()
    def halve(x: int) -> float:
        return x / 2

    registry = ours.HOST_FN_REGISTRY
    index_add = registry.index(add).to_bytes(4, "big")
    out = [Record(1)]
    ours.handle_args(None, [Record(1, i64=40), Record(1, i64=1)], 2, out, 1,
                     [b"extra", index_add])
    assert out[0].v.i64 == 42
    out = [Record(3)]
    ours.handle_args(None, [Record(1, i64=5)], 1, out, 1,
                     [registry.index(halve).to_bytes(4, "big")])
    assert out[0].v.f64 == 2.5

    @wasmplug.host_fn(signature=([], [wasmplug.ValType.I64]))
    def wrong(plugin: Any, params: list[wasmplug.Val], results: list[wasmplug.Val]) -> None:
        results[0] = wasmplug.Val(wasmplug.ValType.F64, 1.0)

    with pytest.raises(wasmplug.Error, match="Output type mismatch"):
        ours.handle_args(None, [], 0, [Record(1)], 1, [registry.index(wrong).to_bytes(4, "big")])


def test_convert_value_output_and_val_assign() -> None:
    val = ours._convert_value(Record(2, f32=1.5))
    assert val is not None and val.t is wasmplug.ValType.F32 and val.value == 1.5
    assert ours._convert_value(Record(7)) is None
    target = Record(0)
    ours._convert_output(target, wasmplug.Val(wasmplug.ValType.I32, 7))
    assert target.v.i32 == 7
    val._assign(3.0)
    assert val.value == 3.0


def test_custom_logger_set_callback() -> None:
    first: list[str] = []
    second: list[str] = []
    sink = ours.CustomLogger(first.append)
    sink._append("one\n")
    sink.set_callback(second.append)
    sink.drain()
    assert (first, second) == ([], ["one\n"])


# ----------------------------------------------------------- call inputs


def _outcome(plugin: Any, data: Any) -> Any:
    try:
        return bytes(plugin.call("echo", data))
    except Exception as exc:  # the exception's type is what we compare
        return type(exc)


INPUTS = ["text", b"bytes", [104, 105], (33,), [], (), 42, None, 4.2, True, [256], [-1],
          ["a"], {1: 2}, {1}, range(3), iter([1]), object(), type("S", (str,), {})("sub"),
          type("B", (bytes,), {})(b"subb")]


def test_call_inputs_are_accepted_and_refused_as_by_the_sdk() -> None:
    theirs = sdk.Plugin(wasm("echo").read_bytes(), functions=[])
    mine = wasmplug.Plugin(wasm("echo"), functions=[])
    for data in INPUTS:
        expected, got = _outcome(theirs, data), _outcome(mine, data)
        assert got == expected, data
    assert _outcome(mine, 42) is TypeError  # not 42 zero bytes
    # Deliberate extension: any bytes-like buffer of bytes (the SDK refuses them).
    assert mine.call("echo", bytearray(b"ba")) == b"ba"
    assert mine.call("echo", memoryview(b"abcdef")[1:3]) == b"bc"


def test_call_input_type_error_says_what_is_accepted() -> None:
    plugin = wasmplug.Plugin(wasm("echo"), functions=[])
    with pytest.raises(TypeError, match="input must be str or bytes, not int"):
        plugin.call("echo", 42)
    with pytest.raises(OverflowError, match=r"outside 0\.\.255"):
        plugin.call("echo", [300])
    assert plugin.call("echo", "still usable") == b"still usable"


# ----------------------------------------------------------- WASI output

WASI_SPEAKER = """
(module
  (import "wasi_snapshot_preview1" "fd_write" (func $w (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 16) "to-stdout\\n")
  (data (i32.const 32) "to-stderr\\n")
  (func (export "say") (result i32)
    (i32.store (i32.const 0) (i32.const 16)) (i32.store (i32.const 4) (i32.const 10))
    (drop (call $w (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))
    (i32.store (i32.const 0) (i32.const 32)) (i32.store (i32.const 4) (i32.const 10))
    (drop (call $w (i32.const 2) (i32.const 0) (i32.const 1) (i32.const 8)))
    (i32.const 0)))
"""


def _run(code: str, env: dict[str, str] | None = None,
         timeout: float = 60) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if k != "EXTISM_ENABLE_WASI_OUTPUT"}
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, timeout=timeout, cwd=ROOT, env=full_env)


SPEAK = f"""
import wasmplug
plugin = wasmplug.Plugin({WASI_SPEAKER!r}, wasi=True)
plugin.call("say", b"")
print("done", flush=True)
"""


def test_enable_wasi_output_sends_output_to_the_process() -> None:
    done = _run(SPEAK, {"EXTISM_ENABLE_WASI_OUTPUT": "1"})
    assert done.returncode == 0, done.stderr
    assert "to-stdout" in done.stdout and "to-stderr" not in done.stdout
    assert "to-stderr" in done.stderr and "to-stdout" not in done.stderr


def test_wasi_output_is_not_on_the_process_streams_by_default() -> None:
    done = _run(SPEAK)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "done\n"
    assert done.stderr == ""


def test_explicit_wasi_callables_win_over_the_environment_variable() -> None:
    code = f"""
    import wasmplug
    got = []
    plugin = wasmplug.Plugin({WASI_SPEAKER!r},
                             wasi=wasmplug.WasiOptions(stdout=got.append))
    plugin.call("say", b"")
    print("callback got", got, flush=True)
    """
    done = _run(code, {"EXTISM_ENABLE_WASI_OUTPUT": "1"})
    assert done.returncode == 0, done.stderr
    assert done.stdout == "callback got [b'to-stdout\\n']\n"
    assert "to-stderr" in done.stderr  # stderr was not given a callable


# ----------------------------------------------------------- runtime events

EVENTS = """
import json, wasmplug
lines = []
logger = wasmplug.set_log_custom(lines.append, "trace")
with wasmplug.Plugin("plugins/assemblyscript/count_vowels.wasm") as plugin:
    plugin.call("count_vowels", "hello world")
slow = wasmplug.Plugin({"wasm": [{"path": "plugins/wat/loop.wasm"}], "timeout_ms": 50})
try:
    slow.call("forever", b"")
except wasmplug.CallTimeout:
    pass
del slow
logger.drain()
print(json.dumps(lines))
"""


def test_set_log_custom_receives_runtime_events_at_trace() -> None:
    done = _run(EVENTS)
    assert done.returncode == 0, done.stderr
    lines: list[str] = json.loads(done.stdout)
    text = "".join(lines)
    for expected in (r"DEBUG wasmplug.runtime: module main \(sha256 [0-9a-f]{16}\) "
                     r"(compiled|loaded from the cache) in \d+\.\d\d ms",
                     r"DEBUG wasmplug.runtime: compiled plug-in ready in \d+\.\d\d ms",
                     r"DEBUG wasmplug.runtime: plug-in created in \d+\.\d\d ms plugin=[0-9a-f-]{36}",
                     r"TRACE wasmplug.runtime: plug-in instantiated in",
                     r"TRACE wasmplug.runtime: call to count_vowels started with 11 bytes",
                     r"DEBUG wasmplug.runtime: call to count_vowels finished in \d+\.\d+ ms "
                     r"with \d+ bytes of output",
                     r"DEBUG wasmplug.runtime: plug-in freed plugin=[0-9a-f-]{36}",
                     r"INFO wasmplug.runtime: call to forever stopped by limit timeout_ms = 50",
                     r"DEBUG wasmplug.runtime: call to forever failed after"):
        assert re.search(expected, text), (expected, text)
    assert len(lines) >= 12
    assert all(line.endswith("\n") for line in lines)


def test_set_log_file_receives_runtime_events_at_its_level(tmp_path: Path) -> None:
    log = tmp_path / "extism.log"
    code = f"""
    import wasmplug
    wasmplug.set_log_file({str(log)!r}, "debug")
    plugin = wasmplug.Plugin("plugins/assemblyscript/count_vowels.wasm")
    plugin.call("count_vowels", "abc")
    plugin.close()
    """
    done = _run(code)
    assert done.returncode == 0, done.stderr
    text = log.read_text()
    assert "plug-in created in" in text and "call to count_vowels finished in" in text
    assert "plug-in freed" in text
    assert "TRACE" not in text  # below the level asked for


def test_nothing_is_logged_or_timed_on_the_call_path_without_a_listener(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # no handler configured in the test process
    assert not _runtime_events.enabled_for(_runtime_events.CALL_EVENTS)

    def fail(*args: object, **kwargs: object) -> object:
        raise AssertionError("call events were produced with nobody listening")

    monkeypatch.setattr(_runtime_events, "observe_call", fail)
    monkeypatch.setattr(_runtime_events.log.get(), "handle", fail)  # the logging.Logger behind it
    plugin = wasmplug.Plugin(wasm("echo"), functions=[])
    for _ in range(3):
        assert plugin.call("echo", b"x") == b"x"


def test_call_events_reach_a_standard_logging_handler(caplog: pytest.LogCaptureFixture) -> None:
    plugin = wasmplug.Plugin(wasm("echo"), functions=[])
    with caplog.at_level(logging_debug(), logger="wasmplug.runtime"):
        plugin.call("echo", b"abc")
    messages = [r.getMessage() for r in caplog.records if r.name == "wasmplug.runtime"]
    assert any(m.startswith("call to echo finished in ") for m in messages)
    assert all(r.plugin_id == plugin.id for r in caplog.records  # type: ignore[attr-defined]
               if r.name == "wasmplug.runtime")


def logging_debug() -> int:
    import logging

    return logging.DEBUG


# ----------------------------------------------------------- exit without a panic


def test_readme_wasi_example_exits_cleanly_30_times() -> None:
    """The WASI example with `stdout=print` (docs/http-and-wasi.md, once in the README) used
    to end with a Rust panic ("panic in a function that cannot unwind", from a tokio worker)
    at exit."""
    readme = "".join(page.read_text() for page in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))])
    example = next(block for block in readme.split("```python\n")[1:]
                   if "WasiOptions(" in block and "stdout=print" in block).split("```")[0]
    env = dict(os.environ)
    failures = []
    for _batch in range(5):  # six at a time keeps two cores busy without thrashing
        procs = [subprocess.Popen([sys.executable, "-c", example], cwd=ROOT, env=env,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE)
                 for _ in range(6)]
        for proc in procs:
            out, err = proc.communicate(timeout=90)
            if err or proc.returncode != 0:
                failures.append((proc.returncode, err.decode(errors="replace")[:500]))
            assert b"to my stdout callback" in out
    assert failures == []
