;; A plug-in written against the legacy Extism 0.x ABI: every host import
;; comes from module "env" with an "extism_" prefix (same signatures as the
;; 1.x "extism:host/env" functions). No other imports.
;;
;; `count_vowels`: counts the input bytes that are in the vowel set (config
;; "vowels" if set and non-empty, read byte by byte; else "aeiouAEIOU"); adds
;; the count to var "total" (u64 little-endian; absent or not 8 bytes = 0);
;; logs "counted" at info level; outputs {"count":N,"total":T}.
;; `fail`: sets the error "legacy failure" and returns 1.
(module
  (import "env" "extism_input_length" (func $input_length (result i64)))
  (import "env" "extism_input_load_u8" (func $input_load_u8 (param i64) (result i32)))
  (import "env" "extism_alloc" (func $alloc (param i64) (result i64)))
  (import "env" "extism_store_u8" (func $store_u8 (param i64 i32)))
  (import "env" "extism_store_u64" (func $store_u64 (param i64 i64)))
  (import "env" "extism_load_u8" (func $load_u8 (param i64) (result i32)))
  (import "env" "extism_length" (func $length (param i64) (result i64)))
  (import "env" "extism_output_set" (func $output_set (param i64 i64)))
  (import "env" "extism_config_get" (func $config_get (param i64) (result i64)))
  (import "env" "extism_var_get" (func $var_get (param i64) (result i64)))
  (import "env" "extism_var_set" (func $var_set (param i64 i64)))
  (import "env" "extism_log_info" (func $log_info (param i64)))
  (import "env" "extism_error_set" (func $error_set (param i64)))

  ;; 0..127: constant strings; 256..511: vowel lookup table;
  ;; 1024..: output text.
  (memory 1)
  (data (i32.const 0) "vowels")
  (data (i32.const 16) "total")
  (data (i32.const 32) "counted")
  (data (i32.const 48) "legacy failure")
  (data (i32.const 64) "aeiouAEIOU")

  ;; Copies guest memory [ptr, ptr+len) into a new kernel block.
  (func $block (param $ptr i32) (param $len i32) (result i64)
    (local $b i64) (local $i i32)
    (local.set $b (call $alloc (i64.extend_i32_u (local.get $len))))
    (block $done
      (loop $copy
        (br_if $done (i32.ge_u (local.get $i) (local.get $len)))
        (call $store_u8
          (i64.add (local.get $b) (i64.extend_i32_u (local.get $i)))
          (i32.load8_u (i32.add (local.get $ptr) (local.get $i))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $copy)))
    (local.get $b))

  ;; Writes v in decimal at ptr; returns the new end pointer.
  (func $decimal (param $ptr i32) (param $v i64) (result i32)
    (local $digits i32) (local $t i64) (local $i i32)
    (local.set $t (local.get $v))
    (loop $count
      (local.set $digits (i32.add (local.get $digits) (i32.const 1)))
      (local.set $t (i64.div_u (local.get $t) (i64.const 10)))
      (br_if $count (i64.ne (local.get $t) (i64.const 0))))
    (local.set $i (local.get $digits))
    (loop $write
      (local.set $i (i32.sub (local.get $i) (i32.const 1)))
      (i32.store8 (i32.add (local.get $ptr) (local.get $i))
        (i32.add (i32.const 48) (i32.wrap_i64 (i64.rem_u (local.get $v) (i64.const 10)))))
      (local.set $v (i64.div_u (local.get $v) (i64.const 10)))
      (br_if $write (i32.ne (local.get $i) (i32.const 0))))
    (i32.add (local.get $ptr) (local.get $digits)))

  ;; Writes the bytes of a constant string at ptr; returns the new end.
  (func $text (param $ptr i32) (param $src i32) (param $len i32) (result i32)
    (memory.copy (local.get $ptr) (local.get $src) (local.get $len))
    (i32.add (local.get $ptr) (local.get $len)))

  (data (i32.const 80) "{\"count\":")
  (data (i32.const 96) ",\"total\":")

  (func (export "count_vowels") (result i32)
    (local $cfg i64) (local $clen i64) (local $i i64) (local $n i64)
    (local $count i64) (local $var i64) (local $prev i64) (local $total i64)
    (local $tb i64) (local $end i32)
    ;; vowel table
    (memory.fill (i32.const 256) (i32.const 0) (i32.const 256))
    (local.set $cfg (call $config_get (call $block (i32.const 0) (i32.const 6))))
    (if (i64.ne (local.get $cfg) (i64.const 0))
      (then (local.set $clen (call $length (local.get $cfg)))))
    (if (i64.eqz (local.get $clen))
      (then
        (local.set $i (i64.const 0))
        (block $d1 (loop $l1
          (br_if $d1 (i64.ge_u (local.get $i) (i64.const 10)))
          (i32.store8
            (i32.add (i32.const 256) (i32.load8_u (i32.add (i32.const 64) (i32.wrap_i64 (local.get $i)))))
            (i32.const 1))
          (local.set $i (i64.add (local.get $i) (i64.const 1)))
          (br $l1))))
      (else
        (local.set $i (i64.const 0))
        (block $d2 (loop $l2
          (br_if $d2 (i64.ge_u (local.get $i) (local.get $clen)))
          (i32.store8
            (i32.add (i32.const 256) (call $load_u8 (i64.add (local.get $cfg) (local.get $i))))
            (i32.const 1))
          (local.set $i (i64.add (local.get $i) (i64.const 1)))
          (br $l2)))))
    ;; count
    (local.set $n (call $input_length))
    (local.set $i (i64.const 0))
    (block $d3 (loop $l3
      (br_if $d3 (i64.ge_u (local.get $i) (local.get $n)))
      (local.set $count (i64.add (local.get $count)
        (i64.extend_i32_u (i32.load8_u (i32.add (i32.const 256) (call $input_load_u8 (local.get $i)))))))
      (local.set $i (i64.add (local.get $i) (i64.const 1)))
      (br $l3)))
    ;; running total in var "total" (u64 LE, read byte by byte)
    (local.set $var (call $var_get (call $block (i32.const 16) (i32.const 5))))
    (if (i32.and (i64.ne (local.get $var) (i64.const 0))
                 (i64.eq (call $length (local.get $var)) (i64.const 8)))
      (then
        (local.set $i (i64.const 8))
        (loop $l4
          (local.set $i (i64.sub (local.get $i) (i64.const 1)))
          (local.set $prev (i64.or (i64.shl (local.get $prev) (i64.const 8))
            (i64.extend_i32_u (call $load_u8 (i64.add (local.get $var) (local.get $i))))))
          (br_if $l4 (i64.ne (local.get $i) (i64.const 0))))))
    (local.set $total (i64.add (local.get $prev) (local.get $count)))
    (local.set $tb (call $alloc (i64.const 8)))
    (call $store_u64 (local.get $tb) (local.get $total))
    (call $var_set (call $block (i32.const 16) (i32.const 5)) (local.get $tb))
    (call $log_info (call $block (i32.const 32) (i32.const 7)))
    ;; {"count":N,"total":T}
    (local.set $end (call $text (i32.const 1024) (i32.const 80) (i32.const 9)))
    (local.set $end (call $decimal (local.get $end) (local.get $count)))
    (local.set $end (call $text (local.get $end) (i32.const 96) (i32.const 9)))
    (local.set $end (call $decimal (local.get $end) (local.get $total)))
    (i32.store8 (local.get $end) (i32.const 125))
    (local.set $end (i32.add (local.get $end) (i32.const 1)))
    (call $output_set
      (call $block (i32.const 1024) (i32.sub (local.get $end) (i32.const 1024)))
      (i64.extend_i32_u (i32.sub (local.get $end) (i32.const 1024))))
    (i32.const 0))

  (func (export "fail") (result i32)
    (call $error_set (call $block (i32.const 48) (i32.const 14)))
    (i32.const 1)))
