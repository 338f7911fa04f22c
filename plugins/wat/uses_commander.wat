;; Multi-module main: imports `get` from module "commander" (commander.wat).
;; `run` outputs commander's get() as 8 bytes little-endian (zero-extended).
(module
  (import "commander" "get" (func $get (result i32)))
  (import "extism:host/env" "alloc" (func $alloc (param i64) (result i64)))
  (import "extism:host/env" "store_u64" (func $store_u64 (param i64 i64)))
  (import "extism:host/env" "output_set" (func $output_set (param i64 i64)))
  (func (export "run") (result i32)
    (local $p i64)
    (local.set $p (call $alloc (i64.const 8)))
    (call $store_u64 (local.get $p) (i64.extend_i32_u (call $get)))
    (call $output_set (local.get $p) (i64.const 8))
    (i32.const 0)))
