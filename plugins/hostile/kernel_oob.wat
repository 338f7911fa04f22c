;; kernel_oob: ATTACK  out-of-bounds and wrapping kernel loads, stores and
;;             frees. The input is a list of u64 offsets (0, 1, 56, 63, the
;;             memory size, 2^32, 2^32 + 77 which would alias the input if the
;;             kernel truncated to 32 bits, 2^63, 2^64-8, 2^64-1, ...).
;;             `load` outputs, per offset, load_u64 then load_u8 (as u64);
;;             `store` writes 0xff..ff with store_u64 and store_u8 at every
;;             offset, then outputs [memory_bytes, input_offset,
;;             input_length, length(input_offset), load_u64(input_offset),
;;             alloc(8)]; `free` allocates a 100-byte block A, frees every
;;             offset plus A+1, A-1, A-12, A+100 and A+2^32, and outputs
;;             [length(A), length(input_offset), A]; `edge` probes the exact
;;             end of kernel memory (see below).
;; EXPECTED    out-of-bounds loads return 0, stores and frees are ignored,
;;             no trap: `store` outputs [65472, 77, 8k, 8k, first offset,
;;             77 + 8k + 12] for k offsets; `free` outputs [100, 8k, A].
;;             `edge` (m = kernel memory size) outputs
;;             [load_u64(m-8) after store_u64(m-8, -1) = 2^64-1,
;;              load_u64(m-7) = 0, load_u8(m-1) = 255, load_u8(m) = 0,
;;              load_u64(m) = 0, load_u8(m + 2^32 - 1) = 0]. `ok` returns 0.
(module
  (import "extism:host/env" "alloc" (func $alloc (param i64) (result i64)))
  (import "extism:host/env" "free" (func $free (param i64)))
  (import "extism:host/env" "length" (func $length (param i64) (result i64)))
  (import "extism:host/env" "load_u8" (func $load_u8 (param i64) (result i32)))
  (import "extism:host/env" "load_u64" (func $load_u64 (param i64) (result i64)))
  (import "extism:host/env" "store_u8" (func $store_u8 (param i64 i32)))
  (import "extism:host/env" "store_u64" (func $store_u64 (param i64 i64)))
  (import "extism:host/env" "input_offset" (func $input_offset (result i64)))
  (import "extism:host/env" "input_length" (func $input_length (result i64)))
  (import "extism:host/env" "input_load_u64" (func $input_load_u64 (param i64) (result i64)))
  (import "extism:host/env" "memory_bytes" (func $memory_bytes (result i64)))
  (import "extism:host/env" "output_set" (func $output_set (param i64 i64)))
  ;; a block of n u64 slots, filled by $put
  (global $out (mut i64) (i64.const 0))
  (global $at (mut i64) (i64.const 0))
  (func $open (param $slots i64)
    (global.set $out (call $alloc (i64.mul (local.get $slots) (i64.const 8))))
    (global.set $at (i64.const 0)))
  (func $put (param $v i64)
    (call $store_u64 (i64.add (global.get $out) (global.get $at)) (local.get $v))
    (global.set $at (i64.add (global.get $at) (i64.const 8))))
  (func $close (call $output_set (global.get $out) (global.get $at)))

  (func (export "load") (result i32)
    (local $i i64) (local $off i64)
    (call $open (i64.div_u (i64.mul (call $input_length) (i64.const 2)) (i64.const 8)))
    (block $done
      (loop $each
        (br_if $done (i64.ge_u (local.get $i) (call $input_length)))
        (local.set $off (call $input_load_u64 (local.get $i)))
        (call $put (call $load_u64 (local.get $off)))
        (call $put (i64.extend_i32_u (call $load_u8 (local.get $off))))
        (local.set $i (i64.add (local.get $i) (i64.const 8)))
        (br $each)))
    (call $close)
    (i32.const 0))

  (func (export "store") (result i32)
    (local $i i64) (local $off i64) (local $a i64)
    (block $done
      (loop $each
        (br_if $done (i64.ge_u (local.get $i) (call $input_length)))
        (local.set $off (call $input_load_u64 (local.get $i)))
        (call $store_u64 (local.get $off) (i64.const -1))
        (call $store_u8 (local.get $off) (i32.const 0xff))
        (local.set $i (i64.add (local.get $i) (i64.const 8)))
        (br $each)))
    (local.set $a (call $alloc (i64.const 8)))
    (call $open (i64.const 6))
    (call $put (call $memory_bytes))
    (call $put (call $input_offset))
    (call $put (call $input_length))
    (call $put (call $length (call $input_offset)))
    (call $put (call $load_u64 (call $input_offset)))
    (call $put (local.get $a))
    (call $close)
    (i32.const 0))

  (func (export "free") (result i32)
    (local $i i64) (local $a i64)
    (local.set $a (call $alloc (i64.const 100)))
    (block $done
      (loop $each
        (br_if $done (i64.ge_u (local.get $i) (call $input_length)))
        (call $free (call $input_load_u64 (local.get $i)))
        (local.set $i (i64.add (local.get $i) (i64.const 8)))
        (br $each)))
    (call $free (i64.add (local.get $a) (i64.const 1)))
    (call $free (i64.sub (local.get $a) (i64.const 1)))
    (call $free (i64.sub (local.get $a) (i64.const 12)))
    (call $free (i64.add (local.get $a) (i64.const 100)))
    (call $free (i64.add (local.get $a) (i64.const 0x100000000)))
    (call $open (i64.const 3))
    (call $put (call $length (local.get $a)))
    (call $put (call $length (call $input_offset)))
    (call $put (local.get $a))
    (call $close)
    (i32.const 0))

  (func (export "edge") (result i32)
    (local $m i64)
    ;; the kernel memory is 64 bytes larger than its capacity counter
    (local.set $m (i64.add (call $memory_bytes) (i64.const 64)))
    (call $store_u64 (i64.sub (local.get $m) (i64.const 8)) (i64.const -1))
    (call $open (i64.const 6))
    (call $put (call $load_u64 (i64.sub (local.get $m) (i64.const 8))))
    (call $put (call $load_u64 (i64.sub (local.get $m) (i64.const 7))))
    (call $put (i64.extend_i32_u (call $load_u8 (i64.sub (local.get $m) (i64.const 1)))))
    (call $put (i64.extend_i32_u (call $load_u8 (local.get $m))))
    (call $put (call $load_u64 (local.get $m)))
    (call $put (i64.extend_i32_u (call $load_u8 (i64.add (local.get $m) (i64.const 0xffffffff)))))
    (call $close)
    (i32.const 0))

  (func (export "ok") (result i32) (i32.const 0)))
