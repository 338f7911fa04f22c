;; A count_vowels shaped like the one ABI.md 7.1 measured (17 initial pages),
;; to reproduce its memory.max_pages table. `count_vowels` copies the input
;; into its own memory twice (as a copy and a transformed copy would), so for
;; an input of n bytes it needs 17 + 2 * ceil(n / 65536) pages; it grows only
;; what it lacks (memory it already has is reused, like an allocator's). It
;; outputs the number of vowels (u64 LE).
;;
;; Growth under max_pages, with the kernel's (ABI.md 3.5) for the input:
;;   10 B:      kernel 0, guest 2 pages      64 KiB:  kernel 1, guest 2
;;   128 KiB:   kernel 2, guest 4            400 000 B: kernel 6, guest 14 (20)
(module
  (import "extism:host/env" "alloc" (func $alloc (param i64) (result i64)))
  (import "extism:host/env" "store_u64" (func $store_u64 (param i64 i64)))
  (import "extism:host/env" "output_set" (func $output_set (param i64 i64)))
  (import "extism:host/env" "input_length" (func $input_length (result i64)))
  (import "extism:host/env" "input_load_u8" (func $input_load_u8 (param i64) (result i32)))
  (memory (export "memory") 17)
  (func (export "count_vowels") (result i32)
    (local $n i32) (local $pages i32) (local $need i32) (local $i i32) (local $c i32)
    (local $count i64) (local $copy i32) (local $p i64)
    (local.set $n (i32.wrap_i64 (call $input_length)))
    (local.set $pages (i32.shr_u (i32.add (local.get $n) (i32.const 65535)) (i32.const 16)))
    (local.set $need (i32.add (i32.const 17) (i32.shl (local.get $pages) (i32.const 1))))
    (if (i32.lt_u (memory.size) (local.get $need))
      (then (drop (memory.grow (i32.sub (local.get $need) (memory.size))))))
    (local.set $copy (i32.shl (i32.add (i32.const 17) (local.get $pages)) (i32.const 16)))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $c (call $input_load_u8 (i64.extend_i32_u (local.get $i))))
        (i32.store8 (i32.add (i32.const 1114112) (local.get $i)) (local.get $c))
        (i32.store8 (i32.add (local.get $copy) (local.get $i)) (i32.or (local.get $c) (i32.const 32)))
        (if (i32.or (i32.or (i32.eq (i32.or (local.get $c) (i32.const 32)) (i32.const 97))
                            (i32.eq (i32.or (local.get $c) (i32.const 32)) (i32.const 101)))
                    (i32.or (i32.or (i32.eq (i32.or (local.get $c) (i32.const 32)) (i32.const 105))
                                    (i32.eq (i32.or (local.get $c) (i32.const 32)) (i32.const 111)))
                            (i32.eq (i32.or (local.get $c) (i32.const 32)) (i32.const 117))))
          (then (local.set $count (i64.add (local.get $count) (i64.const 1)))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    (local.set $p (call $alloc (i64.const 8)))
    (call $store_u64 (local.get $p) (local.get $count))
    (call $output_set (local.get $p) (i64.const 8))
    (i32.const 0))
  (func (export "ok") (result i32) (i32.const 0)))
