;; Imports a name from extism:host/env that the ABI does not have (and the
;; host-only kernel entry points must not be importable either).
(module
  (import "extism:host/env" "wasmplug_begin_call" (func (param i64) (result i64)))
  (func (export "run") (result i32) (i32.const 0)))
