;; bad_utf8: ATTACK  hands the host bytes that are not UTF-8 where it expects
;;           text: `error` sets the error message to ff fe 41; `truncated`
;;           to "ok" + c3 (a cut 2-byte sequence); `surrogate` to ed a0 80
;;           (an encoded UTF-16 surrogate); `log` logs ff fe at info and at
;;           error level; `config_key` asks for config key ff fe; `var_key`
;;           sets var ff fe.
;; EXPECTED  `error`: CallError "unable to load error message from memory:
;;           'utf-8' codec can't decode byte 0xff in position 0: invalid start
;;           byte" (likewise "... 0xc3 in position 2: unexpected end of data"
;;           and "... 0xed in position 0: invalid continuation byte");
;;           `log`: the call succeeds (empty output) and, when logging is on,
;;           the wasmplug.plugin logger gets an ERROR record "plug-in log
;;           message is not valid UTF-8 (...)"; `config_key` / `var_key`:
;;           CallError "'utf-8' codec can't decode byte 0xff in position 0:
;;           invalid start byte". `ok` returns 0.
(module
  (import "extism:host/env" "alloc" (func $alloc (param i64) (result i64)))
  (import "extism:host/env" "store_u64" (func $store_u64 (param i64 i64)))
  (import "extism:host/env" "error_set" (func $error_set (param i64)))
  (import "extism:host/env" "log_info" (func $log_info (param i64)))
  (import "extism:host/env" "log_error" (func $log_error (param i64)))
  (import "extism:host/env" "config_get" (func $config_get (param i64) (result i64)))
  (import "extism:host/env" "var_set" (func $var_set (param i64 i64)))
  ;; A new block of n bytes holding the low n bytes of `word` (little-endian).
  (func $block (param $n i64) (param $word i64) (result i64)
    (local $p i64)
    (local.set $p (call $alloc (local.get $n)))
    (call $store_u64 (local.get $p) (local.get $word))
    (local.get $p))
  (func (export "error") (result i32)
    (call $error_set (call $block (i64.const 3) (i64.const 0x41feff)))
    (i32.const 0))
  (func (export "truncated") (result i32)
    (call $error_set (call $block (i64.const 3) (i64.const 0xc36b6f)))
    (i32.const 0))
  (func (export "surrogate") (result i32)
    (call $error_set (call $block (i64.const 3) (i64.const 0x80a0ed)))
    (i32.const 0))
  (func (export "log") (result i32)
    (call $log_info (call $block (i64.const 2) (i64.const 0xfeff)))
    (call $log_error (call $block (i64.const 2) (i64.const 0xfeff)))
    (i32.const 0))
  (func (export "config_key") (result i32)
    (drop (call $config_get (call $block (i64.const 2) (i64.const 0xfeff))))
    (i32.const 0))
  (func (export "var_key") (result i32)
    (call $var_set (call $block (i64.const 2) (i64.const 0xfeff))
                   (call $block (i64.const 1) (i64.const 0x76)))
    (i32.const 0))
  (func (export "ok") (result i32) (i32.const 0)))
