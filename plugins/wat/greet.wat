;; The README's host-function example: `greet` passes its input to the host
;; function extism:host/user.hello_world (string in, string out) and outputs
;; what it returns.
(module
  (import "extism:host/user" "hello_world" (func $hello (param i64) (result i64)))
  (import "extism:host/env" "input_offset" (func $input_offset (result i64)))
  (import "extism:host/env" "length" (func $length (param i64) (result i64)))
  (import "extism:host/env" "output_set" (func $output_set (param i64 i64)))
  (func (export "greet") (result i32)
    (local $out i64)
    (local.set $out (call $hello (call $input_offset)))
    (call $output_set (local.get $out) (call $length (local.get $out)))
    (i32.const 0)))
