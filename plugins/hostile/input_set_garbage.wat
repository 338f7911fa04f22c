;; input_set_garbage: ATTACK  points the kernel's input and output registers
;;                    at garbage with input_set / output_set (offset 0,
;;                    offsets and lengths near 2^64, ranges that wrap around
;;                    2^64 or 2^32, ranges past the heap), then reads the
;;                    input back: `scramble` copies what input_length /
;;                    input_load_u8 now report into a new block and outputs it.
;;                    `zero_output` registers the valid range (A, 0) as output.
;; EXPECTED           every garbage range is ignored: `scramble` outputs its
;;                    input unchanged; `zero_output` outputs b"". `ok` returns 0.
(module
  (import "extism:host/env" "alloc" (func $alloc (param i64) (result i64)))
  (import "extism:host/env" "store_u8" (func $store_u8 (param i64 i32)))
  (import "extism:host/env" "input_set" (func $input_set (param i64 i64)))
  (import "extism:host/env" "input_length" (func $input_length (result i64)))
  (import "extism:host/env" "input_load_u8" (func $input_load_u8 (param i64) (result i32)))
  (import "extism:host/env" "output_set" (func $output_set (param i64 i64)))
  (func $garbage (param $p i64)
    (call $input_set (i64.const 0) (i64.const 100))
    (call $input_set (i64.const -1) (i64.const -1))
    (call $input_set (i64.const -1) (i64.const 2))
    (call $input_set (i64.const 65) (i64.const -64))
    (call $input_set (i64.const -10) (i64.const 20))
    (call $input_set (i64.add (local.get $p) (i64.const 0x100000000)) (i64.const 4))
    (call $input_set (local.get $p) (i64.const 0x100000000))
    (call $input_set (local.get $p) (i64.const 0x7fffffffffffffff))
    (call $input_set (i64.const 0x7fffffffffffffff) (i64.const 0x7fffffffffffffff))
    (call $output_set (i64.const -1) (i64.const -1))
    (call $output_set (local.get $p) (i64.const 0x100000000)))
  (func (export "scramble") (result i32)
    (local $n i64) (local $i i64) (local $out i64)
    (call $garbage (call $alloc (i64.const 16)))
    (local.set $n (call $input_length))
    (local.set $out (call $alloc (local.get $n)))
    (block $done
      (loop $copy
        (br_if $done (i64.ge_u (local.get $i) (local.get $n)))
        (call $store_u8 (i64.add (local.get $out) (local.get $i))
                        (call $input_load_u8 (local.get $i)))
        (local.set $i (i64.add (local.get $i) (i64.const 1)))
        (br $copy)))
    (call $output_set (local.get $out) (local.get $n))
    (i32.const 0))
  (func (export "zero_output") (result i32)
    (call $output_set (call $alloc (i64.const 16)) (i64.const 0))
    (i32.const 0))
  (func (export "ok") (result i32) (i32.const 0)))
