;; start_trap: ATTACK  the module's wasm start function (run while the
;;             module is instantiated, before any export can be called)
;;             hits `unreachable`.
;; EXPECTED    every call fails with a CallError "plug-in initialisation (its
;;             start function) trapped: ... unreachable ..." (code 134); the
;;             failure repeats on every call (each retries instantiation in a
;;             fresh store, so hundreds of attempts leak nothing), and other
;;             plug-ins are unaffected.
(module
  (memory (export "memory") 1)
  (func $start
    (i32.store (i32.const 0) (i32.const 1))
    unreachable)
  (start $start)
  (func (export "ok") (result i32) (i32.const 0)))
