;; fuel_burner: ATTACK  burns instructions: `forever` loops forever doing
;;              arithmetic; `spin` loops as many times as the input's first
;;              u64 says and outputs the iteration count.
;; EXPECTED     with fuel_limit F: `forever` fails with a CallError starting
;;              "plugin ran out of fuel" (code 134, limit "fuel_limit",
;;              limit_value F); the next call gets a full tank, so a `spin`
;;              needing well under F succeeds on every call in a row. `ok`
;;              returns 0.
(module
  (import "extism:host/env" "alloc" (func $alloc (param i64) (result i64)))
  (import "extism:host/env" "store_u64" (func $store_u64 (param i64 i64)))
  (import "extism:host/env" "output_set" (func $output_set (param i64 i64)))
  (import "extism:host/env" "input_load_u64" (func $input_load_u64 (param i64) (result i64)))
  (func (export "forever") (result i32)
    (local $x i64)
    (loop $spin
      (local.set $x (i64.add (i64.mul (local.get $x) (i64.const 31)) (i64.const 7)))
      (br $spin))
    (i32.const 0))
  (func (export "spin") (result i32)
    (local $n i64) (local $i i64) (local $p i64)
    (local.set $n (call $input_load_u64 (i64.const 0)))
    (block $done
      (loop $more
        (br_if $done (i64.ge_u (local.get $i) (local.get $n)))
        (local.set $i (i64.add (local.get $i) (i64.const 1)))
        (br $more)))
    (local.set $p (call $alloc (i64.const 8)))
    (call $store_u64 (local.get $p) (local.get $i))
    (call $output_set (local.get $p) (i64.const 8))
    (i32.const 0))
  (func (export "ok") (result i32) (i32.const 0)))
