;; import_wasi_when_off: ATTACK  imports WASI's fd_write (to print to the host's
;;                       stdout) while the host did not grant WASI.
;; EXPECTED              refused at load: LoadError "Unable to create Extism
;;                       plugin: module 'main' import
;;                       wasi_snapshot_preview1.fd_write needs WASI, which is
;;                       off; create the plug-in with wasi=True to grant it".
(module
  (import "wasi_snapshot_preview1" "fd_write"
    (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "run") (result i32)
    (call $fd_write (i32.const 1) (i32.const 0) (i32.const 0) (i32.const 0)))
  (func (export "ok") (result i32) (i32.const 0)))
