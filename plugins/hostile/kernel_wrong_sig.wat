;; kernel_wrong_sig: ATTACK  imports the kernel's `alloc` with a 32-bit
;;                   signature (i32 -> i32) instead of i64 -> i64, hoping
;;                   for a truncated or misinterpreted offset.
;; EXPECTED          refused at load: LoadError "Unable to create Extism
;;                   plugin: module 'main' import extism:host/env.alloc has
;;                   type ('i32',) -> ('i32',), but the host provides
;;                   ('i64',) -> ('i64',)".
(module
  (import "extism:host/env" "alloc" (func $alloc (param i32) (result i32)))
  (func (export "run") (result i32)
    (drop (call $alloc (i32.const 8)))
    (i32.const 0))
  (func (export "ok") (result i32) (i32.const 0)))
