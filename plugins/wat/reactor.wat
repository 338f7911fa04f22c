;; Reactor initialisation (ABI.md 5.3): `_initialize` must run exactly once,
;; before the first call. `inits` outputs how many times it ran (8 bytes LE).
(module
  (import "extism:host/env" "alloc" (func $alloc (param i64) (result i64)))
  (import "extism:host/env" "store_u64" (func $store_u64 (param i64 i64)))
  (import "extism:host/env" "output_set" (func $output_set (param i64 i64)))
  (global $inits (mut i64) (i64.const 0))
  (func (export "_initialize") (global.set $inits (i64.add (global.get $inits) (i64.const 1))))
  (func (export "inits") (result i32)
    (local $p i64)
    (local.set $p (call $alloc (i64.const 8)))
    (call $store_u64 (local.get $p) (global.get $inits))
    (call $output_set (local.get $p) (i64.const 8))
    (i32.const 0)))
