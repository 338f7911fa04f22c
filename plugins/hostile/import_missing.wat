;; import_missing: ATTACK  imports a function the host does not provide
;;                 (extism:host/user.not_provided), as a plug-in probing for
;;                 host capabilities would.
;; EXPECTED        refused at load: LoadError "Unable to create Extism
;;                 plugin: unknown import extism:host/user.not_provided
;;                 (module 'main' import extism:host/user.not_provided): the
;;                 host provides no such function; ...".
(module
  (import "extism:host/user" "not_provided" (func $np (param i64) (result i64)))
  (func (export "run") (result i32)
    (drop (call $np (i64.const 0)))
    (i32.const 0))
  (func (export "ok") (result i32) (i32.const 0)))
