;; table_grow_bomb: ATTACK  grows a funcref table, which the host's memory
;;                  pays for: `huge` calls table.grow with the count in the
;;                  input's first u64 (as i32: 2^32-1, 2^28, 1_000_001 ...)
;;                  and outputs the result; `loop` grows by 100_000 elements
;;                  until refused and outputs the final table size.
;; EXPECTED         a store holds at most 1_000_000 table elements: a growth
;;                  past that returns -1 (2^64-1 in the output), so `huge`
;;                  with 2^32-1 or 1_000_001 outputs -1 and `loop` outputs
;;                  1_000_000. No trap, no host memory blow-up; `ok` returns 0.
(module
  (import "extism:host/env" "alloc" (func $alloc (param i64) (result i64)))
  (import "extism:host/env" "store_u64" (func $store_u64 (param i64 i64)))
  (import "extism:host/env" "output_set" (func $output_set (param i64 i64)))
  (import "extism:host/env" "input_load_u64" (func $input_load_u64 (param i64) (result i64)))
  (table $t 0 funcref)
  (func $emit (param $v i64)
    (local $p i64)
    (local.set $p (call $alloc (i64.const 8)))
    (call $store_u64 (local.get $p) (local.get $v))
    (call $output_set (local.get $p) (i64.const 8)))
  (func (export "huge") (result i32)
    (call $emit (i64.extend_i32_s
      (table.grow $t (ref.null func) (i32.wrap_i64 (call $input_load_u64 (i64.const 0))))))
    (i32.const 0))
  (func (export "loop") (result i32)
    (block $refused
      (loop $more
        (br_if $refused
          (i32.eq (table.grow $t (ref.null func) (i32.const 100000)) (i32.const -1)))
        (br $more)))
    (call $emit (i64.extend_i32_u (table.size $t)))
    (i32.const 0))
  (func (export "ok") (result i32) (i32.const 0)))
