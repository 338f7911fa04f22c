;; endless_loop: ATTACK  `run` spins in an empty loop forever, never calling
;;               the host, hoping to pin a host thread.
;; EXPECTED      with `timeout_ms: T` the call fails after about T ms with
;;               wasmplug.CallTimeout ("timeout: ...", code 134, limit
;;               "timeout_ms"); `ok` then returns 0 on the same plug-in.
(module
  (func (export "run") (result i32)
    (loop $spin (br $spin))
    (i32.const 0))
  (func (export "ok") (result i32) (i32.const 0)))
