;; atomic_wait: ATTACK  declares a shared memory and blocks in
;;              memory.atomic.wait32 for 1000 s: a native wait that the
;;              epoch interruption behind timeout_ms cannot cut short.
;; EXPECTED     shared memories (the threads proposal) are disabled in the
;;              host's engine: the first call fails with LoadError "Unable to
;;              create Extism plugin: shared memory support is disabled for
;;              this engine ..." and nothing blocks.
(module
  (memory (export "memory") 1 1 shared)
  (func (export "run") (result i32)
    (drop (memory.atomic.wait32 (i32.const 0) (i32.const 0) (i64.const 1000000000000)))
    (i32.const 0))
  (func (export "ok") (result i32) (i32.const 0)))
