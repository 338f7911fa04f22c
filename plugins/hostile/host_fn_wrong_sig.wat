;; host_fn_wrong_sig: ATTACK  imports the host function
;;                    extism:host/user.explode with a signature that does
;;                    not match the one the host registered (the host gives
;;                    i64 -> i64; this module asks for (f32, i32) -> f64), to
;;                    get mistyped values into Python.
;; EXPECTED           refused when the plug-in is loaded: LoadError "Unable
;;                    to create Extism plugin: module 'main' import
;;                    extism:host/user.explode has type ('f32', 'i32') ->
;;                    ('f64',), but the host provides ('i64',) -> ('i64',)".
(module
  (import "extism:host/user" "explode" (func $explode (param f32 i32) (result f64)))
  (func (export "run") (result i32)
    (drop (call $explode (f32.const 1) (i32.const 2)))
    (i32.const 0))
  (func (export "ok") (result i32) (i32.const 0)))
