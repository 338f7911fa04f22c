;; bad_handles: ATTACK  passes a forged handle (the input's first u64: an
;;              offset inside the heap that is no block, an interior pointer,
;;              2^64-1, ...) to every host function that reads a block:
;;              config_get, var_get, var_set (key, then value), http_request
;;              (request, then body), log_error.
;; EXPECTED     CallError "invalid handle offset for <what>: <offset>" with
;;              <what> = config key, var key, var key, var value, http request,
;;              http request body, log message (the last only when logging is
;;              enabled: with logging off the message is dropped unread and
;;              the call succeeds). `ok` returns 0.
(module
  (import "extism:host/env" "alloc" (func $alloc (param i64) (result i64)))
  (import "extism:host/env" "store_u8" (func $store_u8 (param i64 i32)))
  (import "extism:host/env" "input_load_u64" (func $input_load_u64 (param i64) (result i64)))
  (import "extism:host/env" "config_get" (func $config_get (param i64) (result i64)))
  (import "extism:host/env" "var_get" (func $var_get (param i64) (result i64)))
  (import "extism:host/env" "var_set" (func $var_set (param i64 i64)))
  (import "extism:host/env" "http_request" (func $http (param i64 i64) (result i64)))
  (import "extism:host/env" "log_error" (func $log_error (param i64)))
  (memory 1)
  (data (i32.const 0) "{\"url\": \"http://127.0.0.1:9/\"}")
  (func $handle (result i64) (call $input_load_u64 (i64.const 0)))
  ;; a kernel block holding guest memory [0, n)
  (func $copy (param $n i32) (result i64)
    (local $p i64) (local $i i32)
    (local.set $p (call $alloc (i64.extend_i32_u (local.get $n))))
    (block $done
      (loop $each
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (call $store_u8 (i64.add (local.get $p) (i64.extend_i32_u (local.get $i)))
                        (i32.load8_u (local.get $i)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $each)))
    (local.get $p))
  (func (export "config_get") (result i32)
    (drop (call $config_get (call $handle))) (i32.const 0))
  (func (export "var_get") (result i32)
    (drop (call $var_get (call $handle))) (i32.const 0))
  (func (export "var_set_key") (result i32)
    (call $var_set (call $handle) (call $copy (i32.const 1))) (i32.const 0))
  (func (export "var_set_value") (result i32)
    (call $var_set (call $copy (i32.const 1)) (call $handle)) (i32.const 0))
  (func (export "http_request") (result i32)
    (drop (call $http (call $handle) (i64.const 0))) (i32.const 0))
  (func (export "http_body") (result i32)
    (drop (call $http (call $copy (i32.const 30)) (call $handle))) (i32.const 0))
  (func (export "log") (result i32)
    (call $log_error (call $handle)) (i32.const 0))
  (func (export "ok") (result i32) (i32.const 0)))
