;; heap_corruption: ATTACK  the guest scribbles on the kernel allocator's
;;                  block headers with store_u8 / store_u64 (which only
;;                  protect the root record below address 57/64):
;;                  `inflate_var` sets a block's size and length to 2^32-1
;;                  and hands it to var_set, so the host would read 4 GiB;
;;                  `inflate_output` registers such a block as the output;
;;                  `wrap_root` marks a block free with size 2^32-1 and then
;;                  allocates n bytes once the bump space is used up, so the
;;                  allocator's split computes a header address that wraps
;;                  around 2^32 onto the root record (address 9: the bump
;;                  position and the capacity counter). `echo` outputs the
;;                  input (to check the kernel still works).
;; EXPECTED         `inflate_var`: CallError "invalid handle offset for var
;;                  value: ..." (the kernel refuses a block that would end
;;                  past the heap; the host bounds-checks every read as
;;                  well); `inflate_output`: the range is refused, empty
;;                  output. `wrap_root`: the forged block is not trusted
;;                  (its end lies past the bump position), the allocation
;;                  comes from fresh space and the call succeeds with empty
;;                  output; the next calls work: `echo` returns its input
;;                  (5 B to 1 MB), `ok` 0.
(module
  (import "extism:host/env" "alloc" (func $alloc (param i64) (result i64)))
  (import "extism:host/env" "length" (func $length (param i64) (result i64)))
  (import "extism:host/env" "store_u8" (func $store_u8 (param i64 i32)))
  (import "extism:host/env" "store_u64" (func $store_u64 (param i64 i64)))
  (import "extism:host/env" "var_set" (func $var_set (param i64 i64)))
  (import "extism:host/env" "input_offset" (func $input_offset (result i64)))
  (import "extism:host/env" "input_load_u64" (func $input_load_u64 (param i64) (result i64)))
  (import "extism:host/env" "input_length" (func $input_length (result i64)))
  (import "extism:host/env" "output_set" (func $output_set (param i64 i64)))
  ;; A 16-byte block whose header claims size = used = 2^32-1.
  (func $inflated (result i64)
    (local $a i64)
    (local.set $a (call $alloc (i64.const 16)))
    (call $store_u64 (local.get $a) (i64.const 0x6f6c6c6568))  ;; "hello"
    (call $store_u64 (i64.sub (local.get $a) (i64.const 8)) (i64.const -1))
    (local.get $a))
  (func $key (result i64)
    (local $k i64)
    (local.set $k (call $alloc (i64.const 1)))
    (call $store_u8 (local.get $k) (i32.const 0x6b))
    (local.get $k))
  (func (export "inflate_var") (result i32)
    (local $k i64)
    (local.set $k (call $key))
    (call $var_set (local.get $k) (call $inflated))
    (i32.const 0))
  (func (export "inflate_output") (result i32)
    (local $a i64)
    (local.set $a (call $inflated))
    (call $output_set (local.get $a) (call $length (local.get $a)))
    (i32.const 0))
  (func (export "wrap_root") (result i32)
    (local $a i64) (local $p i64)
    ;; the first block (header at 65): free, size 2^32-1
    (local.set $a (call $alloc (i64.const 16)))
    (call $store_u64 (i64.sub (local.get $a) (i64.const 8)) (i64.const 0xffffffff))
    (call $store_u8 (i64.sub (local.get $a) (i64.const 12)) (i32.const 2))
    ;; use up the bump space: input u64 #0 is the filler size F. The input
    ;; (16 bytes) and the forged block take 56 bytes, so 65408 - 56 - (F + 12)
    ;; bytes of bump space are left.
    (drop (call $alloc (call $input_load_u64 (i64.const 0))))
    ;; input u64 #1 is n: when n + 12 >= what is left the allocator reuses the
    ;; forged block (header at 93) and writes a header at
    ;; 93 + 12 + (2^32-1 - n - 12) = 92 - n (mod 2^32):
    ;; F = 65245, n = 83 aims at address 9; F = 65253, n = 75 at 17.
    (local.set $p (call $alloc (call $input_load_u64 (i64.const 8))))
    (call $output_set (local.get $a) (i64.const 0))
    (i32.const 0))
  (func (export "echo") (result i32)
    (call $output_set (call $input_offset) (call $input_length))
    (i32.const 0))
  (func (export "ok") (result i32) (i32.const 0)))
