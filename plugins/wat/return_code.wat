;; `fail` returns 42 without setting an error; `ok` returns 0; `nothing`
;; has no result at all.
(module
  (func (export "fail") (result i32) (i32.const 42))
  (func (export "ok") (result i32) (i32.const 0))
  (func (export "nothing")))
