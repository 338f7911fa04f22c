;; Multi-module library (no imports, no memory): add_one(x) = x + 1,
;; double(x) = x * 2, both (i32) -> i32. Linked under the name "lib_math" by
;; uses_lib.wat.
(module
  (func (export "add_one") (param $x i32) (result i32)
    (i32.add (local.get $x) (i32.const 1)))
  (func (export "double") (param $x i32) (result i32)
    (i32.mul (local.get $x) (i32.const 2))))
