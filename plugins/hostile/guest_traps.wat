;; guest_traps: ATTACK  every kind of wasm trap the guest can raise by itself:
;;              `oob` (load far past its memory), `div_zero`, `overflow`
;;              (INT_MIN / -1), `bad_convert` (NaN to integer),
;;              `null_call` (call_indirect of an empty table slot),
;;              `bad_signature` (call_indirect with the wrong type),
;;              `unreachable`.
;; EXPECTED     each call fails with a CallError, code 134, whose message
;;              contains wasmtime's trap text: "out of bounds memory access",
;;              "integer divide by zero", "integer overflow", "invalid
;;              conversion to integer", "uninitialized element", "indirect
;;              call type mismatch", "wasm `unreachable` instruction
;;              executed". `ok` returns 0 after each.
(module
  (type $void (func))
  (type $takes (func (param i64) (result i64)))
  (memory (export "memory") 1)
  (table 2 funcref)
  (elem (i32.const 0) $target)
  (func $target)
  (func (export "oob") (result i32)
    (i32.load (i32.const 0xfffffff0)))
  (func (export "div_zero") (result i32)
    (i32.div_u (i32.const 1) (i32.sub (i32.const 1) (i32.const 1))))
  (func (export "overflow") (result i32)
    (i32.div_s (i32.const 0x80000000) (i32.const -1)))
  (func (export "bad_convert") (result i32)
    (i32.trunc_f32_s (f32.div (f32.const 0) (f32.const 0))))
  (func (export "null_call") (result i32)
    (call_indirect (type $void) (i32.const 1))
    (i32.const 0))
  (func (export "bad_signature") (result i32)
    (drop (call_indirect (type $takes) (i64.const 1) (i32.const 0)))
    (i32.const 0))
  (func (export "unreachable") (result i32)
    unreachable)
  (func (export "ok") (result i32) (i32.const 0)))
