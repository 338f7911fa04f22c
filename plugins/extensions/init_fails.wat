;; init_fails: `initialize` sets an error and returns 1 (the extension must be
;; marked failed with this reason). `ping` would answer "{{}}".
(module
  (import "extism:host/env" "alloc" (func $alloc (param i64) (result i64)))
  (import "extism:host/env" "store_u8" (func $store_u8 (param i64 i32)))
  (import "extism:host/env" "output_set" (func $output_set (param i64 i64)))
  (import "extism:host/env" "error_set" (func $error_set (param i64)))
  (import "extism:host/env" "input_length" (func $input_length (result i64)))
  (import "extism:host/env" "input_load_u8" (func $input_load_u8 (param i64) (result i32)))
  (memory (export "memory") 1)
  ;; $block: copies the NUL-terminated string at $ptr into a new kernel block.
  (func $block (param $ptr i32) (result i64 i64)
    (local $len i32) (local $b i64) (local $i i32)
    (block $end (loop $scan
      (br_if $end (i32.eqz (i32.load8_u (i32.add (local.get $ptr) (local.get $len)))))
      (local.set $len (i32.add (local.get $len) (i32.const 1)))
      (br $scan)))
    (local.set $b (call $alloc (i64.extend_i32_u (local.get $len))))
    (block $done (loop $copy
      (br_if $done (i32.ge_u (local.get $i) (local.get $len)))
      (call $store_u8 (i64.add (local.get $b) (i64.extend_i32_u (local.get $i)))
                      (i32.load8_u (i32.add (local.get $ptr) (local.get $i))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $copy)))
    (local.get $b) (i64.extend_i32_u (local.get $len)))
  ;; $out / $fail: output the string at $ptr / set it as the error and return 1.
  (func $out (param $ptr i32) (result i32)
    (call $output_set (call $block (local.get $ptr))) (i32.const 0))
  (func $fail (param $ptr i32) (result i32)
    (call $block (local.get $ptr)) (drop) (call $error_set) (i32.const 1))
  ;; $echo_input: output = input.
  (func $echo_input (result i32)
    (local $n i64) (local $b i64) (local $i i64)
    (local.set $n (call $input_length))
    (local.set $b (call $alloc (local.get $n)))
    (block $done (loop $copy
      (br_if $done (i64.ge_u (local.get $i) (local.get $n)))
      (call $store_u8 (i64.add (local.get $b) (local.get $i)) (call $input_load_u8 (local.get $i)))
      (local.set $i (i64.add (local.get $i) (i64.const 1)))
      (br $copy)))
    (call $output_set (local.get $b) (local.get $n))
    (i32.const 0))
  (data (i32.const 1024) "cannot open the optimizer database\00")
  (data (i32.const 1059) "[{\"name\":\"ping\",\"description\":\"answers {}\"}]\00")
  (data (i32.const 1104) "{}\00")
  (func (export "initialize") (result i32) (call $fail (i32.const 1024)))
  (func (export "capabilities") (result i32) (call $out (i32.const 1059)))
  (func (export "ping") (result i32) (call $out (i32.const 1104)))
)
