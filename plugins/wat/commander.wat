;; A "command"-shaped library module: exports `_start` (() -> (), adds 1 to a
;; mutable i32 global that starts at 0) and `get` (() -> i32, returns the
;; global). It also has a wasm start function, which is empty. Linked under
;; the name "commander" by uses_commander.wat: get() tells whether (and how
;; often) the host ran commander's _start.
(module
  (global $runs (mut i32) (i32.const 0))
  (func $init)
  (start $init)
  (func (export "_start")
    (global.set $runs (i32.add (global.get $runs) (i32.const 1))))
  (func (export "get") (result i32)
    (global.get $runs)))
