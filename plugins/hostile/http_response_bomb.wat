;; http_response_bomb: ATTACK  `run` fetches the URL in the input JSON once
;;                     and outputs the body; the test server answers with
;;                     more than memory.max_http_response_bytes (with a
;;                     Content-Length, chunked without end, or as a gzip
;;                     bomb that inflates 1000x), or drips one byte at a
;;                     time. `hoard` fetches the URL again and again and
;;                     keeps every body in kernel memory.
;; EXPECTED            oversized bodies: CallError "HTTP response exceeds the
;;                     configured maximum number of bytes: M ..." (limit
;;                     "memory.max_http_response_bytes", limit_value M);
;;                     dripping: CallTimeout at timeout_ms; `hoard`: "oom:"
;;                     under memory.max_pages. `ok` returns 0 afterwards.
(module
  (import "extism:host/env" "http_request" (func $http (param i64 i64) (result i64)))
  (import "extism:host/env" "input_length" (func $input_length (result i64)))
  (import "extism:host/env" "alloc" (func $alloc (param i64) (result i64)))
  (import "extism:host/env" "input_load_u8" (func $input_load_u8 (param i64) (result i32)))
  (import "extism:host/env" "store_u8" (func $store_u8 (param i64 i32)))
  (import "extism:host/env" "length" (func $length (param i64) (result i64)))
  (import "extism:host/env" "output_set" (func $output_set (param i64 i64)))
  ;; http_request consumes its request block: hand it a fresh copy each time.
  (func $request (result i64)
    (local $n i64) (local $p i64) (local $i i64)
    (local.set $n (call $input_length))
    (local.set $p (call $alloc (local.get $n)))
    (block $done
      (loop $copy
        (br_if $done (i64.ge_u (local.get $i) (local.get $n)))
        (call $store_u8 (i64.add (local.get $p) (local.get $i))
                        (call $input_load_u8 (local.get $i)))
        (local.set $i (i64.add (local.get $i) (i64.const 1)))
        (br $copy)))
    (local.get $p))
  (func (export "run") (result i32)
    (local $body i64)
    (local.set $body (call $http (call $request) (i64.const 0)))
    (call $output_set (local.get $body) (call $length (local.get $body)))
    (i32.const 0))
  (func (export "hoard") (result i32)
    (loop $more
      (drop (call $http (call $request) (i64.const 0)))
      (br $more))
    (i32.const 0))
  (func (export "ok") (result i32) (i32.const 0)))
