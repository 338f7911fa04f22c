"""Interface files (.d.ts), module-vs-script detection and `js build`'s messages."""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

import pytest

import wasmplug
from wasmplug import js
from wasmplug.js.interface import Signature, read_interface

from .conftest import JS, source

PRETTIER = """
// as prettier writes it
declare module "main" {
  export function greet(): I32;
}

declare module "extism:host" {
  interface user {
    greet(
      name: I64, // the name in
    ): I64;
    /* a block comment */ lookup(ptr: PTR): PTR
  }
  interface helpers {
    unused(ptr: I64): I64;
  }
}
"""


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "wasmplug", "js", *args], capture_output=True,
                          text=True, timeout=300, check=False)


def test_declarations_over_several_lines_and_comments_are_read() -> None:
    declared = read_interface(PRETTIER)
    assert declared.exports == [Signature("greet", (), "I32")]
    assert declared.host_functions == [Signature("greet", ("I64",), "I64"),
                                       Signature("lookup", ("PTR",), "PTR")]
    assert declared.ignored == ["helpers"]


def test_an_interface_not_named_user_is_named_in_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="wasmplug.js"):
        assert js.host_functions_from_dts(PRETTIER, filename="p.d.ts") == ["greet", "lookup"]
    assert "p.d.ts: interface helpers in 'extism:host' is ignored" in caplog.text


def test_signatures_the_runtime_cannot_build_are_refused_clearly(tmp_path: Path) -> None:
    code = tmp_path / "add.js"
    code.write_text("export function add3() { return 0 }")
    typed = tmp_path / "add.d.ts"
    typed.write_text("declare module 'main' {\n  export function add3(a: I32, b: I32, c: I32): I32;\n"
                     "  export function sub(a: I32): I32;\n}\n")
    done = run_cli("build", str(code), "-i", str(typed), "-o", str(tmp_path / "add.wasm"))
    assert done.returncode == 1
    assert "the interface declares sub, which the code does not export" in done.stderr
    assert not (tmp_path / "add.wasm").exists()  # never built with another signature
    wide = tmp_path / "host.d.ts"
    params = ", ".join(f"a{i}: I32" for i in range(33))
    wide.write_text(f"declare module 'extism:host' {{ interface user {{ tick({params}): void }} }}")
    with pytest.raises(js.BuildError, match=r"host\.d\.ts: tick\(.*\): void has 33 parameters; "
                                            r"at most 32 are supported"):
        js.host_functions_from_dts(wide.read_text(), filename="host.d.ts")


def test_unreadable_interfaces_name_the_line() -> None:
    with pytest.raises(js.BuildError, match=r"x\.d\.ts, line 3: cannot read the host function"):
        js.host_functions_from_dts("declare module 'extism:host' {\n interface user {\n 3d(): I64 } }",
                                   filename="x.d.ts")
    with pytest.raises(js.BuildError, match=r"is not closed|unexpected end of file"):
        read_interface("declare module 'main' { export function f(): I32;")


def test_commonjs_with_export_in_comments_and_strings_is_a_script() -> None:
    assert js.exports_of(source("commonjs_tricky.js")) == ["shout"]
    wasm = js.build(source("commonjs_tricky.js"), filename="commonjs_tricky.js")
    with wasmplug.Plugin(wasm, wasi=True) as plugin:
        assert plugin.call("shout", "") == b'EXPORT DEFAULT "NOT A MODULE EITHER"'


def test_a_byte_order_mark_before_export_is_fine() -> None:
    code = b"\xef\xbb\xbfexport function hi() { return 'hi' }"
    with wasmplug.Plugin(js.build(code), wasi=True) as plugin:
        assert plugin.call("hi", "") == b"hi"


def test_the_kind_can_be_forced(tmp_path: Path) -> None:
    code = tmp_path / "both.js"
    # a script: `this` at the top level is the global object; in a module it is undefined
    code.write_text("var where = typeof this;\nmodule.exports = { where() { return where } };\n")
    done = run_cli("build", str(code), "--kind", "script", "-o", str(tmp_path / "s.wasm"))
    assert done.returncode == 0, done.stderr
    with wasmplug.Plugin(str(tmp_path / "s.wasm"), wasi=True) as plugin:
        assert plugin.call("where", "") == b"object"
    done = run_cli("build", str(code), "--kind", "module", "-o", str(tmp_path / "m.wasm"))
    assert done.returncode == 1
    assert "ReferenceError: module is not defined" in done.stderr  # a module has no `module`


def test_a_file_exporting_nothing_gets_a_readable_message(tmp_path: Path) -> None:
    code = tmp_path / "none.js"
    code.write_text("const x = 1;\n")
    done = run_cli("build", str(code))
    assert done.returncode == 1
    assert "module.exports = { name }" in done.stderr and "{{" not in done.stderr


def test_syntax_errors_of_scripts_and_modules_are_reported_as_such() -> None:
    with pytest.raises(js.JSError, match="SyntaxError") as caught:
        js.exports_of("module.exports = { f() { return 1 + } };", filename="bad.js")
    assert caught.value.filename == "bad.js"
    with pytest.raises(js.JSError, match="SyntaxError"):
        js.exports_of("export function f() { return 1 + }", filename="bad.mjs")
    assert JS.is_dir()
