;; memory_split: ATTACK  two memories (multi-memory): an exported 64-page one
;;               and a 1-page one. A host with one cap per memory, derived
;;               from the largest initial size, let the small memory grow by
;;               64 + max_pages pages. `grow_small` grows the small memory
;;               by the input's first u64 pages and outputs memory.grow's
;;               result (the old size, or -1).
;; EXPECTED      one budget for all memories (ABI.md 7.1): with max_pages 4
;;               the 65 initial pages do not fit and every call fails with
;;               `oom: the plug-in's memories need 65 pages…`. With
;;               max_pages 65 they fit, and after instantiation the budget
;;               is refilled to 65 pages shared by both: growing the small
;;               memory by 66 fails with `oom: …`; by 65 outputs 1 (its old
;;               size); by 1 more fails with `oom: …`. `ok` returns 0.
(module
  (import "extism:host/env" "alloc" (func $alloc (param i64) (result i64)))
  (import "extism:host/env" "store_u64" (func $store_u64 (param i64 i64)))
  (import "extism:host/env" "output_set" (func $output_set (param i64 i64)))
  (import "extism:host/env" "input_load_u64" (func $input_load_u64 (param i64) (result i64)))
  (memory $big (export "memory") 64)
  (memory $small (export "small") 1)
  (func $emit (param $v i64)
    (local $p i64)
    (local.set $p (call $alloc (i64.const 8)))
    (call $store_u64 (local.get $p) (local.get $v))
    (call $output_set (local.get $p) (i64.const 8)))
  (func (export "grow_small") (result i32)
    (call $emit (i64.extend_i32_s
      (memory.grow $small (i32.wrap_i64 (call $input_load_u64 (i64.const 0))))))
    (i32.const 0))
  (func (export "ok") (result i32) (i32.const 0)))
