;; huge_output: ATTACK  `run` allocates as many kernel bytes as the input's
;;              first u64 says and registers them all as the output, to make
;;              the host copy a huge buffer; `garbage` registers absurd
;;              output ranges with output_set (offset and length near 2^64,
;;              ranges that wrap around, offset 0, offsets past the heap,
;;              a length of 2^32).
;; EXPECTED     `run`: the output is that many zero bytes while it fits in
;;              memory.max_pages; with `memory.max_output_bytes: M` (wasmplug
;;              extension) an output larger than M fails with a CallError
;;              mentioning "memory.max_output_bytes" (limit
;;              "memory.max_output_bytes", limit_value M); a size the kernel
;;              cannot allocate (2^40) gives alloc 0, output_set(0, ...) is
;;              ignored, and the output is empty. `garbage`: every range is
;;              ignored by the kernel, the output is empty. `ok` returns 0.
(module
  (import "extism:host/env" "alloc" (func $alloc (param i64) (result i64)))
  (import "extism:host/env" "output_set" (func $output_set (param i64 i64)))
  (import "extism:host/env" "input_load_u64" (func $input_load_u64 (param i64) (result i64)))
  (func (export "run") (result i32)
    (local $n i64)
    (local.set $n (call $input_load_u64 (i64.const 0)))
    (call $output_set (call $alloc (local.get $n)) (local.get $n))
    (i32.const 0))
  (func (export "garbage") (result i32)
    (local $p i64)
    (local.set $p (call $alloc (i64.const 16)))
    (call $output_set (i64.const -1) (i64.const -1))
    (call $output_set (i64.const 65) (i64.const -64))
    (call $output_set (i64.const -10) (i64.const 20))
    (call $output_set (local.get $p) (i64.const -1))
    (call $output_set (local.get $p) (i64.const 0x100000000))
    (call $output_set (i64.const 0) (i64.const 16))
    (call $output_set (i64.add (i64.const 0x100000000) (local.get $p)) (i64.const 16))
    (call $output_set (i64.const 0x7fffffffffffffff) (i64.const 2))
    (i32.const 0))
  (func (export "ok") (result i32) (i32.const 0)))
