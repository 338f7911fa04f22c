;; many_memories: ATTACK  declares 20 linear memories (multi-memory), each of
;;                which the host must reserve address space for (and each
;;                of which may grow by memory.max_pages), to multiply the
;;                memory the plug-in can take.
;; EXPECTED       a store may hold at most 16 memories (the kernel's
;;                included): instantiating this module fails, at the first
;;                call, with a LoadError naming the memory limit. Other
;;                plug-ins are unaffected.
(module
  (memory $m0 (export "memory") 1)
  (memory $m1 1)
  (memory $m2 1)
  (memory $m3 1)
  (memory $m4 1)
  (memory $m5 1)
  (memory $m6 1)
  (memory $m7 1)
  (memory $m8 1)
  (memory $m9 1)
  (memory $m10 1)
  (memory $m11 1)
  (memory $m12 1)
  (memory $m13 1)
  (memory $m14 1)
  (memory $m15 1)
  (memory $m16 1)
  (memory $m17 1)
  (memory $m18 1)
  (memory $m19 1)
  (func (export "ok") (result i32) (i32.const 0)))
