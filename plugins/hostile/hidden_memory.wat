;; hidden_memory: ATTACK  declares a 32-page memory without exporting it, so
;;                a host that sizes its limits from exported memories gets
;;                the budget wrong (too small: refusing a valid plug-in; too
;;                large: letting it grow unbounded). `grow` grows it by the
;;                input's first u64 pages and outputs memory.grow's result.
;; EXPECTED       the hidden memory counts like any other (ABI.md 7.1): with
;;                max_pages 4 every call fails with `oom: the plug-in's
;;                memories need 32 pages when instantiated; memory.max_pages
;;                allows 4`. With max_pages 32 it instantiates and the budget
;;                is refilled: `grow` by 32 outputs 32 (the old size), then by
;;                1 fails with `oom: …` (the budget is spent); `ok` still
;;                returns 0.
(module
  (import "extism:host/env" "alloc" (func $alloc (param i64) (result i64)))
  (import "extism:host/env" "store_u64" (func $store_u64 (param i64 i64)))
  (import "extism:host/env" "output_set" (func $output_set (param i64 i64)))
  (import "extism:host/env" "input_load_u64" (func $input_load_u64 (param i64) (result i64)))
  (memory 32)
  (func $emit (param $v i64)
    (local $p i64)
    (local.set $p (call $alloc (i64.const 8)))
    (call $store_u64 (local.get $p) (local.get $v))
    (call $output_set (local.get $p) (i64.const 8)))
  (func (export "grow") (result i32)
    (call $emit (i64.extend_i32_s
      (memory.grow (i32.wrap_i64 (call $input_load_u64 (i64.const 0))))))
    (i32.const 0))
  (func (export "ok") (result i32) (i32.const 0)))
