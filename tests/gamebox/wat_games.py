"""Small games written in WAT for the upload tests: valid ones and every kind of broken one.

`game_wasm()` is a complete game (a fixed board that says `marker`); its
options break it in one way each: a missing export, an import GameBox does
not offer, a trap or an endless loop in one call, an hour's WASI sleep in one
call, an `error_set` message in one call, lines written to WASI stderr in one
call, lines logged with log_warn in one call, memory grown (a trap if refused)
in one call, a 10 MB render, padding (a data segment) to reach a given size.
"""

from __future__ import annotations

import json

import wasmtime

from wasmplug.binary import encode_name, encode_uleb

FUNCTIONS = ("get_constraints", "init_game", "handle_event", "render")


def _data(text: str) -> str:
    return "".join(f"\\{b:02x}" for b in text.encode("utf-8"))


def game_wasm(marker: str = "v1", *, missing: tuple[str, ...] = (), trap_in: str = "",
              loop_in: str = "", sleep_in: str = "", error_in: str = "", error: str = "",
              stderr_in: str = "", stderr: str = "", stderr_times: int = 1,
              grow_in: str = "", grow_pages: int = 0, log_in: str = "", log: str = "",
              log_times: int = 1,
              huge_render: bool = False, extra_import: bool = False,
              constraints: str = '{"min_players": 2, "max_players": 2}', padding: int = 0) -> bytes:
    outputs = {
        "get_constraints": constraints,
        "init_game": "",
        "handle_event": json.dumps({"version": 1}),
        "render": f'<p class="marker">{marker}</p>',
    }
    data, funcs, offset = [], [], 16
    extra = {"error": error, "stderr": stderr, "log": log}
    at: dict[str, int] = {}
    for key, text in extra.items():  # placed after the outputs' data
        at[key] = 4096 + 2048 * len(at)
        data.append(f'(data (i32.const {at[key]}) "{_data(text)}")')
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
        elif name == sleep_in:  # an hour's clock wait (its subscription at 8192), then the output
            body = ("(call $clock) (drop (call $poll (i32.const 8192) (i32.const 8448) (i32.const 1) "
                    f"(i32.const 8704))) {body}")
        elif name == grow_in:  # grow the memory, trap if that was refused
            body = (f"(if (i32.eq (memory.grow (i32.const {grow_pages})) (i32.const -1)) "
                    f"(then (unreachable))) {body}")
        elif name == log_in:  # log_warn(log), log_times times
            body = (f"(local.set $n (i32.const {log_times})) "
                    "(block $done (loop $again (br_if $done (i32.eqz (local.get $n))) "
                    f"(call $log_warn (call $copy (i32.const {at['log']}) (i32.const {len(log.encode())}))) "
                    "(local.set $n (i32.sub (local.get $n) (i32.const 1))) (br $again))) " + body)
        elif name == error_in:
            body = (f"(call $error_set (call $copy (i32.const {at['error']}) "
                    f"(i32.const {len(error.encode())}))) (return (i32.const 1))")
        elif name == stderr_in:  # the iovec at 9000, written stderr_times times
            body = (f"(i32.store (i32.const 9000) (i32.const {at['stderr']})) "
                    f"(i32.store (i32.const 9004) (i32.const {len(stderr.encode())})) "
                    f"(local.set $n (i32.const {stderr_times})) "
                    "(block $done (loop $again (br_if $done (i32.eqz (local.get $n))) "
                    "(drop (call $fd_write (i32.const 2) (i32.const 9000) (i32.const 1) (i32.const 9008))) "
                    "(local.set $n (i32.sub (local.get $n) (i32.const 1))) (br $again))) " + body)
        elif name == "render" and huge_render:
            body = "(call $output_set (call $alloc (i64.const 10485760)) (i64.const 10485760))"
        funcs.append(f'(func (export "{name}") (result i32) (local $n i32) {body} (i32.const 0))')
        offset += len(text.encode()) + 16
    module = f"""(module
  (import "extism:host/env" "alloc" (func $alloc (param i64) (result i64)))
  (import "extism:host/env" "store_u8" (func $store_u8 (param i64 i32)))
  (import "extism:host/env" "output_set" (func $output_set (param i64 i64)))
  (import "extism:host/env" "error_set" (func $error_set (param i64)))
  (import "extism:host/env" "log_warn" (func $log_warn (param i64)))
  {WASI if sleep_in or stderr_in else ''}
  {'(import "extism:host/user" "steal_files" (func $steal (param i64) (result i64)))' if extra_import else ''}
  (memory (export "memory") 1)
  {' '.join(data)}
  (func $out (param $ptr i32) (param $len i32)
    (call $output_set (call $copy (local.get $ptr) (local.get $len)) (i64.extend_i32_u (local.get $len))))
  (func $clock
    (i64.store (i32.const 8192) (i64.const 7))
    (i32.store8 (i32.const 8200) (i32.const 0))
    (i32.store (i32.const 8208) (i32.const 1))
    (i64.store (i32.const 8216) (i64.const 3600000000000)))
  (func $copy (param $ptr i32) (param $len i32) (result i64)
    (local $dst i64) (local $i i32)
    (local.set $dst (call $alloc (i64.extend_i32_u (local.get $len))))
    (block $done (loop $copy
      (br_if $done (i32.ge_u (local.get $i) (local.get $len)))
      (call $store_u8 (i64.add (local.get $dst) (i64.extend_i32_u (local.get $i)))
                      (i32.load8_u (i32.add (local.get $ptr) (local.get $i))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $copy)))
    (local.get $dst))
  {' '.join(funcs)})"""
    wasm = bytes(wasmtime.wat2wasm(module))
    if padding > len(wasm):
        wasm = _with_custom_section(wasm, padding - len(wasm))
    return wasm


WASI = """(import "wasi_snapshot_preview1" "poll_oneoff" (func $poll (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))"""


def _with_custom_section(wasm: bytes, size: int) -> bytes:
    """`wasm` plus a custom section ("padding") that makes it about `size` bytes bigger."""
    body = encode_name("padding") + bytes(max(0, size - 16))
    return wasm + b"\x00" + encode_uleb(len(body)) + body
