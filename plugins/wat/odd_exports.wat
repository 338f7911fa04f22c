;; Exports that are not callable as Extism functions (ABI.md 5.2, 5.6).
(module
  (memory (export "memory") 1)
  (global (export "a_global") i32 (i32.const 1))
  (func (export "takes_param") (param i32) (result i32) (i32.const 0))
  (func (export "returns_i64") (result i64) (i64.const 0))
  (func (export "two_results") (result i32 i32) (i32.const 0) (i32.const 0))
  (func (export "ok") (result i32) (i32.const 0)))
