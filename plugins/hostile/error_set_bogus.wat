;; error_set_bogus: ATTACK  registers bogus error offsets with error_set, to
;;                  make the host read an error message from memory that is
;;                  no message: `out_of_heap` (2^40), `max` (2^64-1),
;;                  `wrapped` (2^32 + A, which is A if truncated to 32 bits),
;;                  `interior` (A + 1), `header` (A - 12, the block header),
;;                  `freed` (A, then frees A), `cleared` (A, then error_set(0)),
;;                  where A is a live block holding "boom". `cleared_rc`
;;                  clears the error and returns 5. `valid` sets A: the
;;                  control case.
;; EXPECTED         a bogus offset is ignored (the kernel refuses offsets
;;                  outside the heap; the host reads nothing at an offset that
;;                  is not the start of a live block), so all these calls
;;                  succeed with an empty output, except `cleared_rc`:
;;                  CallError "Error code: 5" (code 5), and `valid`:
;;                  CallError "boom". `ok` returns 0.
(module
  (import "extism:host/env" "alloc" (func $alloc (param i64) (result i64)))
  (import "extism:host/env" "free" (func $free (param i64)))
  (import "extism:host/env" "store_u64" (func $store_u64 (param i64 i64)))
  (import "extism:host/env" "error_set" (func $error_set (param i64)))
  (func $boom (result i64)
    (local $p i64)
    (local.set $p (call $alloc (i64.const 4)))
    (call $store_u64 (local.get $p) (i64.const 0x6d6f6f62))  ;; "boom"
    (local.get $p))
  (func (export "out_of_heap") (result i32)
    (call $error_set (i64.const 0x10000000000)) (i32.const 0))
  (func (export "max") (result i32)
    (call $error_set (i64.const -1)) (i32.const 0))
  (func (export "wrapped") (result i32)
    (call $error_set (i64.add (call $boom) (i64.const 0x100000000))) (i32.const 0))
  (func (export "interior") (result i32)
    (call $error_set (i64.add (call $boom) (i64.const 1))) (i32.const 0))
  (func (export "header") (result i32)
    (call $error_set (i64.sub (call $boom) (i64.const 12))) (i32.const 0))
  (func (export "freed") (result i32)
    (local $p i64)
    (local.set $p (call $boom))
    (call $error_set (local.get $p))
    (call $free (local.get $p))
    (i32.const 0))
  (func (export "cleared") (result i32)
    (call $error_set (call $boom))
    (call $error_set (i64.const 0))
    (i32.const 0))
  (func (export "cleared_rc") (result i32)
    (call $error_set (call $boom))
    (call $error_set (i64.const 0))
    (i32.const 5))
  (func (export "valid") (result i32)
    (call $error_set (call $boom)) (i32.const 0))
  (func (export "ok") (result i32) (i32.const 0)))
