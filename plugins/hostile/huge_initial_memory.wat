;; huge_initial_memory: ATTACK  a 1 GiB (16384-page) initial memory beside two
;;                      1-page ones, hoping initial sizes are not counted and
;;                      that each small memory may grow by memory.max_pages:
;;                      `grow_small` grows both small memories by the input's
;;                      first u64 pages, then fills every new page with 0xAA
;;                      (so it is really committed); it outputs the two sizes.
;;                      Under a per-memory cap this took the host's RSS from
;;                      35 MiB to 2 GiB with max_pages 16.
;; EXPECTED             ABI.md 7.1: the initial sizes (16386 pages) must fit in
;;                      memory.max_pages. With max_pages 16 every call, `ok`
;;                      included, fails with `oom: the plug-in's memories need
;;                      16386 pages when instantiated; memory.max_pages allows
;;                      16` (limit "memory.max_pages"), and nothing is
;;                      instantiated. With max_pages 16386 the memories fit and,
;;                      the budget being refilled after instantiation, all
;;                      memories may then grow by 16386 pages together:
;;                      `grow_small` by 8 outputs 9, 9; by 9000 fails with
;;                      `oom: …` (the second memory's 9000 pages are over the
;;                      16370 left) and the plug-in stays usable.
(module
  (import "extism:host/env" "alloc" (func $alloc (param i64) (result i64)))
  (import "extism:host/env" "store_u64" (func $store_u64 (param i64 i64)))
  (import "extism:host/env" "output_set" (func $output_set (param i64 i64)))
  (import "extism:host/env" "input_load_u64" (func $input_load_u64 (param i64) (result i64)))
  (memory $huge (export "memory") 16384)
  (memory $a 1)
  (memory $b 1)
  (func (export "grow_small") (result i32)
    (local $n i32) (local $old i32) (local $old2 i32) (local $p i64)
    (local.set $n (i32.wrap_i64 (call $input_load_u64 (i64.const 0))))
    (local.set $old (memory.grow $a (local.get $n)))
    (local.set $old2 (memory.grow $b (local.get $n)))
    (memory.fill $a (i32.shl (local.get $old) (i32.const 16)) (i32.const 0xAA)
                 (i32.shl (local.get $n) (i32.const 16)))
    (memory.fill $b (i32.shl (local.get $old2) (i32.const 16)) (i32.const 0xAA)
                 (i32.shl (local.get $n) (i32.const 16)))
    (local.set $p (call $alloc (i64.const 16)))
    (call $store_u64 (local.get $p) (i64.extend_i32_u (memory.size $a)))
    (call $store_u64 (i64.add (local.get $p) (i64.const 8)) (i64.extend_i32_u (memory.size $b)))
    (call $output_set (local.get $p) (i64.const 16))
    (i32.const 0))
  (func (export "ok") (result i32) (i32.const 0)))
