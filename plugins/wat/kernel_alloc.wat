;; `alloc_like_input` allocates a kernel block as long as the input and
;; outputs it (zeros), without using the plug-in's own memory: for the
;; kernel's page budget (memory.max_pages).
(module
  (import "extism:host/env" "alloc" (func $alloc (param i64) (result i64)))
  (import "extism:host/env" "input_length" (func $input_length (result i64)))
  (import "extism:host/env" "output_set" (func $output_set (param i64 i64)))
  (func (export "alloc_like_input") (result i32)
    (call $output_set (call $alloc (call $input_length)) (call $input_length))
    (i32.const 0)))
