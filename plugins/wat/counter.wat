;; A global that persists across calls: `count` outputs its value as 8 bytes
;; little-endian, then increments it. `_start` also counts: calling it makes
;; the host rebuild the instance before the next call (ABI.md 5.4).
(module
  (import "extism:host/env" "alloc" (func $alloc (param i64) (result i64)))
  (import "extism:host/env" "store_u64" (func $store_u64 (param i64 i64)))
  (import "extism:host/env" "output_set" (func $output_set (param i64 i64)))
  (global $count (mut i64) (i64.const 0))
  (func $emit (param $v i64)
    (local $p i64)
    (local.set $p (call $alloc (i64.const 8)))
    (call $store_u64 (local.get $p) (local.get $v))
    (call $output_set (local.get $p) (i64.const 8)))
  (func (export "count") (result i32)
    (call $emit (global.get $count))
    (global.set $count (i64.add (global.get $count) (i64.const 1)))
    (i32.const 0))
  (func (export "_start")
    (global.set $count (i64.add (global.get $count) (i64.const 100)))))
