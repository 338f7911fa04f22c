;; double_free: ATTACK  frees the same kernel block twice, then allocates
;;              twice, hoping the allocator hands the same memory out to two
;;              owners. Blocks are 65000 bytes so the bump space is exhausted
;;              and freed blocks really are reused (ABI.md 3.5). Outputs
;;              [A, B, C, length(B), length(C)] where A is the doubly freed
;;              block and B, C the next two allocations; `free_output`
;;              registers a block as output and frees it before returning.
;; EXPECTED     the second free is a no-op: B == A (reused once), C != A
;;              (a fresh block), both lengths 65000. `free_output` still
;;              returns the 5 bytes it wrote (freeing does not erase them).
;;              `ok` returns 0.
(module
  (import "extism:host/env" "alloc" (func $alloc (param i64) (result i64)))
  (import "extism:host/env" "free" (func $free (param i64)))
  (import "extism:host/env" "length" (func $length (param i64) (result i64)))
  (import "extism:host/env" "store_u64" (func $store_u64 (param i64 i64)))
  (import "extism:host/env" "output_set" (func $output_set (param i64 i64)))
  (func (export "run") (result i32)
    (local $a i64) (local $b i64) (local $c i64) (local $out i64)
    (local.set $a (call $alloc (i64.const 65000)))
    (call $free (local.get $a))
    (call $free (local.get $a))
    (local.set $b (call $alloc (i64.const 65000)))
    (local.set $c (call $alloc (i64.const 65000)))
    (local.set $out (call $alloc (i64.const 40)))
    (call $store_u64 (local.get $out) (local.get $a))
    (call $store_u64 (i64.add (local.get $out) (i64.const 8)) (local.get $b))
    (call $store_u64 (i64.add (local.get $out) (i64.const 16)) (local.get $c))
    (call $store_u64 (i64.add (local.get $out) (i64.const 24)) (call $length (local.get $b)))
    (call $store_u64 (i64.add (local.get $out) (i64.const 32)) (call $length (local.get $c)))
    (call $output_set (local.get $out) (i64.const 40))
    (i32.const 0))
  (func (export "free_output") (result i32)
    (local $p i64)
    (local.set $p (call $alloc (i64.const 5)))
    (call $store_u64 (local.get $p) (i64.const 0x6f6c6c6568))  ;; "hello"
    (call $output_set (local.get $p) (i64.const 5))
    (call $free (local.get $p))
    (call $free (local.get $p))
    (i32.const 0))
  (func (export "ok") (result i32) (i32.const 0)))
