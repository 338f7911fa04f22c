;; init_trap: ATTACK  exports a reactor initialiser `_initialize` that hits
;;            `unreachable`, so the guest runtime can never initialise; the
;;            host runs it before the first call (ABI.md 5.3).
;; EXPECTED   every call, `ok` included, fails with a CallError whose message
;;            contains "initialisation" and the trap ("unreachable"), code
;;            134: a failed initialisation is retried with a fresh instance
;;            on the next call, never skipped. Other plug-ins are unaffected.
(module
  (global $ready (mut i32) (i32.const 0))
  (func (export "_initialize")
    unreachable)
  (func (export "ready") (result i32)
    ;; would return 1 ("not initialised") if the host skipped the initialiser
    (i32.eqz (global.get $ready)))
  (func (export "ok") (result i32) (i32.const 0)))
