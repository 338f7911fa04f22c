;; Overwrites the kernel's output-length register with store_u64 (which the
;; ABI's bounds allow at address 57) so the output points past the memory:
;; the host must refuse to read it.
(module
  (import "extism:host/env" "alloc" (func $alloc (param i64) (result i64)))
  (import "extism:host/env" "output_set" (func $output_set (param i64 i64)))
  (import "extism:host/env" "store_u64" (func $store_u64 (param i64 i64)))
  (func (export "scribble") (result i32)
    (call $output_set (call $alloc (i64.const 4)) (i64.const 4))
    (call $store_u64 (i64.const 57) (i64.const 0x7fffffffffff))
    (i32.const 0)))
