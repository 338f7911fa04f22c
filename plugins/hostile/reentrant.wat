;; reentrant: ATTACK  calls the host function extism:host/user.call_back,
;;            which (in the test) calls back into the same plug-in, as a
;;            plug-in would when it tricks a host function into recursing.
;; EXPECTED   the inner call is refused with CallError "cannot make reentrant
;;            calls into plugin", which fails the outer call with the same
;;            message; no deadlock; the plug-in stays usable (`ok` returns 0)
;;            and a host function may still call a different plug-in.
(module
  (import "extism:host/user" "call_back" (func $call_back))
  (func (export "run") (result i32)
    (call $call_back)
    (i32.const 0))
  (func (export "ok") (result i32) (i32.const 0)))
