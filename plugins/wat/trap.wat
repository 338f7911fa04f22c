;; `trap` hits `unreachable`; `ok` succeeds. Used to check that a trap fails
;; the call (code 134) and leaves the plug-in usable.
(module
  (func (export "trap") (result i32) unreachable)
  (func (export "ok") (result i32) (i32.const 0)))
