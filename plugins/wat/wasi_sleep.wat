;; Clock waits through WASI `poll_oneoff` (wasi_snapshot_preview1). The input is
;; 8 bytes little-endian: nanoseconds to wait. Each export builds its
;; subscriptions at offset 0 of its own memory and outputs the events written
;; (offset 256: 32 bytes each) after their count (4 bytes, offset 512).
;; - `sleep`: one relative clock subscription (userdata 7).
;; - `sleep_or_stdin`: the same clock (userdata 7) and an fd_read on fd 0
;;   (userdata 9): the descriptor is ready at once, so nothing waits.
;; - `sleep_forever`: waits the input's nanoseconds again and again, in a loop.
(module
  (import "wasi_snapshot_preview1" "poll_oneoff"
    (func $poll (param i32 i32 i32 i32) (result i32)))
  (import "extism:host/env" "input_load_u64" (func $input_u64 (param i64) (result i64)))
  (import "extism:host/env" "alloc" (func $alloc (param i64) (result i64)))
  (import "extism:host/env" "store_u8" (func $store_u8 (param i64 i32)))
  (import "extism:host/env" "output_set" (func $output_set (param i64 i64)))
  (memory (export "memory") 1)
  (func $clock (param $at i32) (param $ns i64)
    (i64.store (local.get $at) (i64.const 7))                        ;; userdata
    (i32.store8 (i32.add (local.get $at) (i32.const 8)) (i32.const 0)) ;; tag: clock
    (i32.store (i32.add (local.get $at) (i32.const 16)) (i32.const 1)) ;; monotonic
    (i64.store (i32.add (local.get $at) (i32.const 24)) (local.get $ns))
    (i64.store (i32.add (local.get $at) (i32.const 32)) (i64.const 0))
    (i32.store16 (i32.add (local.get $at) (i32.const 40)) (i32.const 0)))
  (func $emit (param $errno i32)
    (local $n i32) (local $len i32) (local $p i64) (local $i i32)
    (i32.store (i32.const 508) (local.get $errno))
    (local.set $n (i32.load (i32.const 512)))
    (local.set $len (i32.add (i32.const 8) (i32.mul (local.get $n) (i32.const 32))))
    (local.set $p (call $alloc (i64.extend_i32_u (local.get $len))))
    (block $done
      (loop $copy
        (br_if $done (i32.ge_u (local.get $i) (local.get $len)))
        ;; bytes 508.. : errno, count, then the events copied from 256
        (call $store_u8 (i64.add (local.get $p) (i64.extend_i32_u (local.get $i)))
          (if (result i32) (i32.lt_u (local.get $i) (i32.const 8))
            (then (i32.load8_u (i32.add (i32.const 508) (local.get $i))))
            (else (i32.load8_u (i32.add (i32.const 248) (local.get $i))))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $copy)))
    (call $output_set (local.get $p) (i64.extend_i32_u (local.get $len))))
  (func (export "sleep") (result i32)
    (call $clock (i32.const 0) (call $input_u64 (i64.const 0)))
    (call $emit (call $poll (i32.const 0) (i32.const 256) (i32.const 1) (i32.const 512)))
    (i32.const 0))
  (func (export "sleep_or_stdin") (result i32)
    (call $clock (i32.const 0) (call $input_u64 (i64.const 0)))
    (i64.store (i32.const 48) (i64.const 9))
    (i32.store8 (i32.const 56) (i32.const 1))   ;; tag: fd_read
    (i32.store (i32.const 64) (i32.const 0))    ;; fd 0
    (call $emit (call $poll (i32.const 0) (i32.const 256) (i32.const 2) (i32.const 512)))
    (i32.const 0))
  (func (export "sleep_forever") (result i32)
    (call $clock (i32.const 0) (call $input_u64 (i64.const 0)))
    (loop $again
      (drop (call $poll (i32.const 0) (i32.const 256) (i32.const 1) (i32.const 512)))
      (br $again))
    (i32.const 0)))
