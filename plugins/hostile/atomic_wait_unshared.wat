;; atomic_wait_unshared: ATTACK  the same 1000 s memory.atomic.wait32 on an
;;                       ordinary (unshared) memory.
;; EXPECTED              the wait traps at once: CallError (code 134) with
;;                       "atomic wait on non-shared memory". `ok` returns 0.
(module
  (memory (export "memory") 1)
  (func (export "run") (result i32)
    (drop (memory.atomic.wait32 (i32.const 0) (i32.const 0) (i64.const 1000000000000)))
    (i32.const 0))
  (func (export "ok") (result i32) (i32.const 0)))
