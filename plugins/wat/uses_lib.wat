;; Multi-module main: imports add_one and double from module "lib_math"
;; (lib_math.wat). `compute` outputs double(add_one(20)) = 42 as 8 bytes
;; little-endian (i64).
(module
  (import "lib_math" "add_one" (func $add_one (param i32) (result i32)))
  (import "lib_math" "double" (func $double (param i32) (result i32)))
  (import "extism:host/env" "alloc" (func $alloc (param i64) (result i64)))
  (import "extism:host/env" "store_u64" (func $store_u64 (param i64 i64)))
  (import "extism:host/env" "output_set" (func $output_set (param i64 i64)))
  (func (export "compute") (result i32)
    (local $p i64)
    (local.set $p (call $alloc (i64.const 8)))
    (call $store_u64 (local.get $p)
      (i64.extend_i32_u (call $double (call $add_one (i32.const 20)))))
    (call $output_set (local.get $p) (i64.const 8))
    (i32.const 0)))
