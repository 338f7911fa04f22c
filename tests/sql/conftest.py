"""Fixtures of the wasmplug.sql tests: the example plug-ins and a misbehaving one."""

from __future__ import annotations

from pathlib import Path

from ..conftest import ROOT

SQL_PLUGINS = ROOT / "plugins" / "sql"
TEXT = SQL_PLUGINS / "text.wasm"
STATS = SQL_PLUGINS / "stats.wasm"
SLUGIFY_JS = SQL_PLUGINS / "slugify.js"

# Exports for every way a SQL function can go wrong. `echo` outputs its input;
# `trap_on_4` traps when the input is 4 bytes long, else echoes; `bad_step`
# (with `bad_final`) is an aggregate whose step traps on 4-byte input.
MISBEHAVING_WAT = """
(module
  (import "extism:host/env" "input_offset" (func $input_offset (result i64)))
  (import "extism:host/env" "input_length" (func $input_length (result i64)))
  (import "extism:host/env" "output_set" (func $output_set (param i64 i64)))
  (memory 1)
  (func $echo (export "echo") (result i32)
    (call $output_set (call $input_offset) (call $input_length))
    (i32.const 0))
  (func (export "trap") (result i32) unreachable)
  (func (export "forever") (result i32) (loop $l (br $l)) (i32.const 0))
  (func (export "hog") (result i32)
    (loop $l (br_if $l (i32.ne (memory.grow (i32.const 16)) (i32.const -1))))
    (i32.const 0))
  (func (export "trap_on_4") (result i32)
    (if (i64.eq (call $input_length) (i64.const 4)) (then unreachable))
    (call $echo))
  (func (export "bad_step") (result i32)
    (if (i64.eq (call $input_length) (i64.const 4)) (then unreachable))
    (i32.const 0))
  (func (export "bad_final") (result i32) (i32.const 0)))
"""


def misbehaving(tmp_path: Path) -> Path:
    """The misbehaving plug-in as a .wat file."""
    path = tmp_path / "misbehaving.wat"
    path.write_text(MISBEHAVING_WAT)
    return path
