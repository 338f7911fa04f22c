;; memory_grow_bomb: ATTACK  the guest grows its own linear memory: `run`
;;                   calls memory.grow(1) in a loop until refused and writes
;;                   to every page it got; `huge` asks for 0xffffffff pages at
;;                   once; `max` asks for 65535 pages (all of wasm32).
;; EXPECTED          with `memory.max_pages: N` the growth that would pass the
;;                   budget traps (ABI.md 7.1: memory.grow does not return -1):
;;                   `run`, `huge` and `max` fail with `oom: …` (limit
;;                   "memory.max_pages", code 134) once the memory is N pages
;;                   beyond its initial 1 page. The plug-in stays usable (`ok`
;;                   returns 0) and its memory stays at 1 + N pages.
(module
  (import "extism:host/env" "alloc" (func $alloc (param i64) (result i64)))
  (import "extism:host/env" "store_u64" (func $store_u64 (param i64 i64)))
  (import "extism:host/env" "output_set" (func $output_set (param i64 i64)))
  (memory (export "memory") 1)
  (func $emit (param $v i64)
    (local $p i64)
    (local.set $p (call $alloc (i64.const 8)))
    (call $store_u64 (local.get $p) (local.get $v))
    (call $output_set (local.get $p) (i64.const 8)))
  (func (export "run") (result i32)
    (local $old i32)
    (block $refused
      (loop $more
        (local.set $old (memory.grow (i32.const 1)))
        (br_if $refused (i32.eq (local.get $old) (i32.const -1)))
        ;; touch the new page so it is really committed
        (i32.store (i32.shl (local.get $old) (i32.const 16)) (i32.const 0xdeadbeef))
        (br $more)))
    (call $emit (i64.extend_i32_u (memory.size)))
    (i32.const 0))
  (func (export "huge") (result i32)
    (call $emit (i64.extend_i32_s (memory.grow (i32.const 0xffffffff))))
    (i32.const 0))
  (func (export "max") (result i32)
    (call $emit (i64.extend_i32_s (memory.grow (i32.const 65535))))
    (i32.const 0))
  (func (export "ok") (result i32) (i32.const 0)))
