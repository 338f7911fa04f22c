"""Small games written in WAT for the upload tests: valid ones and every kind of broken one.

`game_wasm()` is a complete game (a fixed board that says `marker`); its
options break it in one way each: a missing export, an import GameBox does
not offer, a trap or an endless loop in one call, a 10 MB render, padding
(a data segment) to reach a given size.
"""

from __future__ import annotations

import json

import wasmtime

from wasmplug.binary import encode_name, encode_uleb

FUNCTIONS = ("get_constraints", "init_game", "handle_event", "render")


def _data(text: str) -> str:
    return "".join(f"\\{b:02x}" for b in text.encode("utf-8"))


def game_wasm(marker: str = "v1", *, missing: tuple[str, ...] = (), trap_in: str = "",
              loop_in: str = "", huge_render: bool = False, extra_import: bool = False,
              constraints: str = '{"min_players": 2, "max_players": 2}', padding: int = 0) -> bytes:
    outputs = {
        "get_constraints": constraints,
        "init_game": "",
        "handle_event": json.dumps({"version": 1}),
        "render": f'<p class="marker">{marker}</p>',
    }
    data, funcs, offset = [], [], 16
    for name in FUNCTIONS:
        if name in missing:
            continue
        text = outputs[name]
        data.append(f'(data (i32.const {offset}) "{_data(text)}")')
        body = f"(call $out (i32.const {offset}) (i32.const {len(text.encode())}))"
        if name == trap_in:
            body = "(unreachable)"
        elif name == loop_in:
            body = "(loop $l (br $l))"
        elif name == "render" and huge_render:
            body = "(call $output_set (call $alloc (i64.const 10485760)) (i64.const 10485760))"
        funcs.append(f'(func (export "{name}") (result i32) {body} (i32.const 0))')
        offset += len(text.encode()) + 16
    module = f"""(module
  (import "extism:host/env" "alloc" (func $alloc (param i64) (result i64)))
  (import "extism:host/env" "store_u8" (func $store_u8 (param i64 i32)))
  (import "extism:host/env" "output_set" (func $output_set (param i64 i64)))
  {'(import "extism:host/user" "steal_files" (func $steal (param i64) (result i64)))' if extra_import else ''}
  (memory (export "memory") 1)
  {' '.join(data)}
  (func $out (param $ptr i32) (param $len i32)
    (local $dst i64) (local $i i32)
    (local.set $dst (call $alloc (i64.extend_i32_u (local.get $len))))
    (block $done (loop $copy
      (br_if $done (i32.ge_u (local.get $i) (local.get $len)))
      (call $store_u8 (i64.add (local.get $dst) (i64.extend_i32_u (local.get $i)))
                      (i32.load8_u (i32.add (local.get $ptr) (local.get $i))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $copy)))
    (call $output_set (local.get $dst) (i64.extend_i32_u (local.get $len))))
  {' '.join(funcs)})"""
    wasm = bytes(wasmtime.wat2wasm(module))
    if padding > len(wasm):
        wasm = _with_custom_section(wasm, padding - len(wasm))
    return wasm


def _with_custom_section(wasm: bytes, size: int) -> bytes:
    """`wasm` plus a custom section ("padding") that makes it about `size` bytes bigger."""
    body = encode_name("padding") + bytes(max(0, size - 16))
    return wasm + b"\x00" + encode_uleb(len(body)) + body
