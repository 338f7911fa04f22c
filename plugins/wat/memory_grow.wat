;; Grows the plug-in's own memory by the number of pages given as the input's
;; first 8 bytes (LE) and outputs the new size in pages (8 bytes LE), or
;; 2^64-1 when `memory.grow` refused. `fill` writes every byte of its memory
;; to show the grown pages are usable.
(module
  (import "extism:host/env" "alloc" (func $alloc (param i64) (result i64)))
  (import "extism:host/env" "store_u64" (func $store_u64 (param i64 i64)))
  (import "extism:host/env" "output_set" (func $output_set (param i64 i64)))
  (import "extism:host/env" "input_load_u64" (func $input_load_u64 (param i64) (result i64)))
  (memory (export "memory") 1)
  (func $emit (param $v i64)
    (local $p i64)
    (local.set $p (call $alloc (i64.const 8)))
    (call $store_u64 (local.get $p) (local.get $v))
    (call $output_set (local.get $p) (i64.const 8)))
  (func (export "grow") (result i32)
    (if (i32.eq (memory.grow (i32.wrap_i64 (call $input_load_u64 (i64.const 0)))) (i32.const -1))
      (then (call $emit (i64.const -1)))
      (else (call $emit (i64.extend_i32_u (memory.size)))))
    (i32.const 0))
  (func (export "fill") (result i32)
    (memory.fill (i32.const 0) (i32.const 7) (i32.shl (memory.size) (i32.const 16)))
    (call $emit (i64.extend_i32_u (memory.size)))
    (i32.const 0)))
