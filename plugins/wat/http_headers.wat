;; HTTP response status and headers through the raw kernel ABI.
;; `request`: the input itself (a JSON request spec: {"url", "method",
;; "headers"}) is the request block: http_request(input_offset(), 0) with no
;; body. Output: status (http_status_code, 4 bytes little-endian i32) followed
;; by the block http_headers() returns (a JSON object of response headers);
;; http_headers() == 0 means "no headers" and adds nothing after the status.
;; The response body is ignored.
(module
  (import "extism:host/env" "input_offset" (func $input_offset (result i64)))
  (import "extism:host/env" "http_request" (func $http_request (param i64 i64) (result i64)))
  (import "extism:host/env" "http_status_code" (func $http_status_code (result i32)))
  (import "extism:host/env" "http_headers" (func $http_headers (result i64)))
  (import "extism:host/env" "alloc" (func $alloc (param i64) (result i64)))
  (import "extism:host/env" "length" (func $length (param i64) (result i64)))
  (import "extism:host/env" "load_u8" (func $load_u8 (param i64) (result i32)))
  (import "extism:host/env" "store_u8" (func $store_u8 (param i64 i32)))
  (import "extism:host/env" "output_set" (func $output_set (param i64 i64)))
  (func (export "request") (result i32)
    (local $status i32) (local $h i64) (local $hlen i64) (local $out i64) (local $i i64)
    (drop (call $http_request (call $input_offset) (i64.const 0)))
    (local.set $status (call $http_status_code))
    (local.set $h (call $http_headers))
    (if (i64.ne (local.get $h) (i64.const 0))
      (then (local.set $hlen (call $length (local.get $h)))))
    (local.set $out (call $alloc (i64.add (i64.const 4) (local.get $hlen))))
    ;; status, little-endian
    (call $store_u8 (local.get $out) (local.get $status))
    (call $store_u8 (i64.add (local.get $out) (i64.const 1)) (i32.shr_u (local.get $status) (i32.const 8)))
    (call $store_u8 (i64.add (local.get $out) (i64.const 2)) (i32.shr_u (local.get $status) (i32.const 16)))
    (call $store_u8 (i64.add (local.get $out) (i64.const 3)) (i32.shr_u (local.get $status) (i32.const 24)))
    ;; headers JSON, byte by byte
    (block $done
      (loop $copy
        (br_if $done (i64.ge_u (local.get $i) (local.get $hlen)))
        (call $store_u8
          (i64.add (local.get $out) (i64.add (i64.const 4) (local.get $i)))
          (call $load_u8 (i64.add (local.get $h) (local.get $i))))
        (local.set $i (i64.add (local.get $i) (i64.const 1)))
        (br $copy)))
    (call $output_set (local.get $out) (i64.add (i64.const 4) (local.get $hlen)))
    (i32.const 0)))
