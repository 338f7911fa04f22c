;; kernel_alloc_bomb: ATTACK  the guest makes the kernel (the memory it shares
;;                    with the host) grow: `run` calls extism:host/env alloc
;;                    (64 KiB) in an endless loop and never frees; `huge`
;;                    asks for 2^32, 2^63 and 2^64-1 bytes.
;; EXPECTED           with `memory.max_pages: N` the kernel's growth is
;;                    refused after N pages and the call fails with a
;;                    CallError "oom: ... memory.max_pages (N pages) ..."
;;                    (code 134, limit "memory.max_pages", limit_value N).
;;                    `huge` outputs three u64 zeros (allocation refused,
;;                    no trap). The plug-in stays usable (`ok` returns 0, even
;;                    with a large input).
(module
  (import "extism:host/env" "alloc" (func $alloc (param i64) (result i64)))
  (import "extism:host/env" "store_u64" (func $store_u64 (param i64 i64)))
  (import "extism:host/env" "output_set" (func $output_set (param i64 i64)))
  (func (export "run") (result i32)
    (loop $more
      (drop (call $alloc (i64.const 65536)))
      (br $more))
    (i32.const 0))
  (func (export "huge") (result i32)
    (local $a i64) (local $b i64) (local $c i64) (local $out i64)
    (local.set $a (call $alloc (i64.const 0x100000000)))
    (local.set $b (call $alloc (i64.const 0x8000000000000000)))
    (local.set $c (call $alloc (i64.const -1)))
    (local.set $out (call $alloc (i64.const 24)))
    (call $store_u64 (local.get $out) (local.get $a))
    (call $store_u64 (i64.add (local.get $out) (i64.const 8)) (local.get $b))
    (call $store_u64 (i64.add (local.get $out) (i64.const 16)) (local.get $c))
    (call $output_set (local.get $out) (i64.const 24))
    (i32.const 0))
  (func (export "ok") (result i32) (i32.const 0)))
