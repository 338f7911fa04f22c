;; host_fn_raises: ATTACK  calls the host function extism:host/user.explode
;;                 (i64 -> i64) with its input; the tests give it Python
;;                 functions that raise (ValueError, a wasmplug.Error, an
;;                 exception with an empty message), that return a value of
;;                 the wrong type, or that set the plug-in error and then
;;                 raise.
;; EXPECTED        the call fails with a CallError carrying the exception's
;;                 message (the exception is the CallError's __cause__); a
;;                 set error wins over the exception; the plug-in stays
;;                 usable (`ok` returns 0).
(module
  (import "extism:host/user" "explode" (func $explode (param i64) (result i64)))
  (import "extism:host/env" "input_offset" (func $input_offset (result i64)))
  (import "extism:host/env" "length" (func $length (param i64) (result i64)))
  (import "extism:host/env" "output_set" (func $output_set (param i64 i64)))
  (func (export "run") (result i32)
    (local $r i64)
    (local.set $r (call $explode (call $input_offset)))
    (call $output_set (local.get $r) (call $length (local.get $r)))
    (i32.const 0))
  (func (export "ok") (result i32) (i32.const 0)))
