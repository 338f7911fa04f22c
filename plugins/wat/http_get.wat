;; `get`: the input itself (a JSON request spec: {"url", "method", "headers"})
;; is the request block: http_request(input_offset(), 0) with no body. Output =
;; the response body block as returned (offset 0 = empty output). Status and
;; headers are not reported.
(module
  (import "extism:host/env" "input_offset" (func $input_offset (result i64)))
  (import "extism:host/env" "http_request" (func $http_request (param i64 i64) (result i64)))
  (import "extism:host/env" "length" (func $length (param i64) (result i64)))
  (import "extism:host/env" "output_set" (func $output_set (param i64 i64)))
  (func (export "get") (result i32)
    (local $r i64)
    (local.set $r (call $http_request (call $input_offset) (i64.const 0)))
    (if (i64.ne (local.get $r) (i64.const 0))
      (then (call $output_set (local.get $r) (call $length (local.get $r)))))
    (i32.const 0)))
