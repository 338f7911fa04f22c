;; Imports a function no host provides.
(module
  (import "extism:host/user" "not_provided" (func (param i64) (result i64)))
  (func (export "run") (result i32) (i32.const 0)))
