;; deep_recursion: ATTACK  `run` calls a function that calls itself without a
;;                 base case, each frame carrying locals, to overflow the
;;                 native stack of the host thread. `mutual` does the same
;;                 through two functions and call_indirect.
;; EXPECTED        the call fails with a CallError (code 134) whose message
;;                 contains "call stack exhausted"; the host thread survives
;;                 and `ok` returns 0.
(module
  (type $rec (func (param i64) (result i64)))
  (table 2 funcref)
  (elem (i32.const 0) $ping $pong)
  (func $recurse (param $n i64) (result i64)
    (local $a i64) (local $b i64) (local $c i64) (local $d i64)
    (local.set $a (i64.add (local.get $n) (i64.const 1)))
    (local.set $b (call $recurse (local.get $a)))
    (i64.add (local.get $b) (local.get $a)))
  (func $ping (param $n i64) (result i64)
    (call_indirect (type $rec) (i64.add (local.get $n) (i64.const 1)) (i32.const 1)))
  (func $pong (param $n i64) (result i64)
    (call_indirect (type $rec) (i64.add (local.get $n) (i64.const 1)) (i32.const 0)))
  (func (export "run") (result i32)
    (drop (call $recurse (i64.const 0)))
    (i32.const 0))
  (func (export "mutual") (result i32)
    (drop (call $ping (i64.const 0)))
    (i32.const 0))
  (func (export "ok") (result i32) (i32.const 0)))
