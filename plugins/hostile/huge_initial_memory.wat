;; huge_initial_memory: ATTACK  declares a 1 GiB (16384-page) initial memory,
;;                      which memory.max_pages does not count (ABI.md 7.1:
;;                      only growth is budgeted), then tries to grow it
;;                      further. `touch` writes the last byte and outputs
;;                      memory.size; `grow` grows by the input's first u64
;;                      pages and outputs memory.grow's result.
;; EXPECTED             the plug-in instantiates (address space is reserved,
;;                      pages are committed only when touched): `touch`
;;                      outputs 16384; with max_pages 4, `grow` by 5 outputs
;;                      -1 (2^64-1), by 4 outputs 16384. `ok` returns 0.
;;                      NOTE: max_pages does not bound the initial size; a
;;                      module may declare up to 4 GiB per memory.
(module
  (import "extism:host/env" "alloc" (func $alloc (param i64) (result i64)))
  (import "extism:host/env" "store_u64" (func $store_u64 (param i64 i64)))
  (import "extism:host/env" "output_set" (func $output_set (param i64 i64)))
  (import "extism:host/env" "input_load_u64" (func $input_load_u64 (param i64) (result i64)))
  (memory (export "memory") 16384)
  (func $emit (param $v i64)
    (local $p i64)
    (local.set $p (call $alloc (i64.const 8)))
    (call $store_u64 (local.get $p) (local.get $v))
    (call $output_set (local.get $p) (i64.const 8)))
  (func (export "touch") (result i32)
    (i32.store8 (i32.sub (i32.shl (memory.size) (i32.const 16)) (i32.const 1)) (i32.const 1))
    (call $emit (i64.extend_i32_u (memory.size)))
    (i32.const 0))
  (func (export "grow") (result i32)
    (call $emit (i64.extend_i32_s
      (memory.grow (i32.wrap_i64 (call $input_load_u64 (i64.const 0))))))
    (i32.const 0))
  (func (export "ok") (result i32) (i32.const 0)))
