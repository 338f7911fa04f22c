;; invalid_types: ATTACK  a binary that parses but does not validate: `ok`
;;                declares an i32 result and returns an i64 (the text format
;;                compiler does not type-check, so the .wasm carries the
;;                error).
;; EXPECTED       refused at load: LoadError "Unable to compile Extism
;;                plugin: module 'main' is not valid WebAssembly (...)".
(module
  (func (export "ok") (result i32) (i64.const 0)))
