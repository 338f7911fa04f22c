;; http_forbidden: ATTACK  `run` sends an HTTP request described by the input
;;                 JSON ({"url": ...}) to hosts the manifest does not allow:
;;                 another name for the allowed address (localhost for
;;                 127.0.0.1), a user-info trick (http://127.0.0.1@evil/),
;;                 a look-alike suffix (127.0.0.1.evil.example), IPv6
;;                 loopback, and non-HTTP schemes (file://, ftp://).
;; EXPECTED        the call fails before any connection is made:
;;                 CallError "HTTP request to <url> is not allowed: the host
;;                 '<host>' does not match the manifest's allowed_hosts", or
;;                 "Invalid URL: <url> (expected an absolute http:// or
;;                 https:// URL)" for other schemes. The server sees no
;;                 request; `ok` returns 0.
(module
  (import "extism:host/env" "http_request" (func $http (param i64 i64) (result i64)))
  (import "extism:host/env" "input_offset" (func $input_offset (result i64)))
  (import "extism:host/env" "length" (func $length (param i64) (result i64)))
  (import "extism:host/env" "output_set" (func $output_set (param i64 i64)))
  (func (export "run") (result i32)
    (local $body i64)
    (local.set $body (call $http (call $input_offset) (i64.const 0)))
    (call $output_set (local.get $body) (call $length (local.get $body)))
    (i32.const 0))
  (func (export "ok") (result i32) (i32.const 0)))
