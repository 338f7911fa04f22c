;; var_bomb: ATTACK  fills the host-side variable store: `run` calls var_set
;;           in an endless loop with a new 9-byte key ("k" + u64 counter) and
;;           a value 1 KiB larger each time; `same_key` rewrites one key
;;           with ever larger values; `hoard` stores the input in var "big"
;;           and then calls var_get("big") forever without freeing, so the
;;           host copies the value into kernel memory again and again.
;; EXPECTED  `run` / `same_key`: CallError "Variable store is full (limit
;;           memory.max_var_bytes = N bytes)" (limit "memory.max_var_bytes",
;;           limit_value N); the vars the host kept never exceed N.
;;           `hoard`: kernel growth is refused, CallError "oom: ...
;;           memory.max_pages ...". `ok` returns 0 afterwards.
(module
  (import "extism:host/env" "alloc" (func $alloc (param i64) (result i64)))
  (import "extism:host/env" "store_u8" (func $store_u8 (param i64 i32)))
  (import "extism:host/env" "store_u64" (func $store_u64 (param i64 i64)))
  (import "extism:host/env" "var_set" (func $var_set (param i64 i64)))
  (import "extism:host/env" "var_get" (func $var_get (param i64) (result i64)))
  (import "extism:host/env" "input_offset" (func $input_offset (result i64)))
  (func $key (param $i i64) (result i64)
    (local $k i64)
    (local.set $k (call $alloc (i64.const 9)))
    (call $store_u8 (local.get $k) (i32.const 0x6b))  ;; "k"
    (call $store_u64 (i64.add (local.get $k) (i64.const 1)) (local.get $i))
    (local.get $k))
  (func $big_key (result i64)
    (local $k i64)
    (local.set $k (call $alloc (i64.const 3)))
    (call $store_u8 (local.get $k) (i32.const 0x62))  ;; "big"
    (call $store_u8 (i64.add (local.get $k) (i64.const 1)) (i32.const 0x69))
    (call $store_u8 (i64.add (local.get $k) (i64.const 2)) (i32.const 0x67))
    (local.get $k))
  (func (export "run") (result i32)
    (local $i i64)
    (loop $more
      (local.set $i (i64.add (local.get $i) (i64.const 1)))
      (call $var_set (call $key (local.get $i))
                     (call $alloc (i64.mul (local.get $i) (i64.const 1024))))
      (br $more))
    (i32.const 0))
  (func (export "same_key") (result i32)
    (local $i i64)
    (loop $more
      (local.set $i (i64.add (local.get $i) (i64.const 1)))
      (call $var_set (call $key (i64.const 0))
                     (call $alloc (i64.mul (local.get $i) (i64.const 1024))))
      (br $more))
    (i32.const 0))
  (func (export "hoard") (result i32)
    (call $var_set (call $big_key) (call $input_offset))
    (loop $more
      (drop (call $var_get (call $big_key)))
      (br $more))
    (i32.const 0))
  (func (export "ok") (result i32) (i32.const 0)))
