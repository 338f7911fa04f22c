;; log_flood: ATTACK  calls log_error in an endless loop ("flood", a fresh
;;            block each time), so nearly all the time is spent in host
;;            functions, where the epoch interruption cannot fire.
;; EXPECTED   with timeout_ms T the call still ends after about T ms with
;;            CallTimeout ("timeout: ..."); the log records arrive while it
;;            runs; `ok` returns 0.
(module
  (import "extism:host/env" "alloc" (func $alloc (param i64) (result i64)))
  (import "extism:host/env" "store_u64" (func $store_u64 (param i64 i64)))
  (import "extism:host/env" "log_error" (func $log_error (param i64)))
  (func (export "run") (result i32)
    (local $p i64)
    (loop $more
      (local.set $p (call $alloc (i64.const 5)))
      (call $store_u64 (local.get $p) (i64.const 0x646f6f6c66))  ;; "flood"
      (call $log_error (local.get $p))
      (br $more))
    (i32.const 0))
  (func (export "ok") (result i32) (i32.const 0)))
