;; `forever` never returns: for timeouts and cancellation. `ok` returns 0.
(module
  (func (export "forever") (result i32) (loop $l (br $l)) (i32.const 0))
  (func (export "ok") (result i32) (i32.const 0)))
