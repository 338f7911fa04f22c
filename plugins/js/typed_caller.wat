;; Calls typed.js's typed exports the way a linked module would (an Extism multi-module manifest).
(module
  (import "extism:host/env" "alloc" (func $alloc (param i64) (result i64)))
  (import "extism:host/env" "store_u64" (func $store (param i64 i64)))
  (import "extism:host/env" "output_set" (func $out (param i64 i64)))
  (import "typed" "add3" (func $add3 (param i32 i32 i32) (result i32)))
  (import "typed" "big" (func $big (param i64) (result i64)))
  (func (export "run") (result i32) (local $o i64)
    (local.set $o (call $alloc (i64.const 16)))
    (call $store (local.get $o) (i64.extend_i32_s (call $add3 (i32.const 1) (i32.const 2) (i32.const 39))))
    (call $store (i64.add (local.get $o) (i64.const 8)) (call $big (i64.const 21)))
    (call $out (local.get $o) (i64.const 16))
    (i32.const 0)))
