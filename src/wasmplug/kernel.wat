;; The wasmplug kernel: the linear memory a plug-in shares with its host, its
;; allocator and the input / output / error registers (ABI.md, section 3).
;;
;; Plug-ins import these functions from `extism:host/env`; they are linked
;; wasm-to-wasm, so memory traffic never leaves compiled code. The host reads
;; and writes this memory directly and uses the `wasmplug_*` entry points,
;; which plug-ins cannot import (the linker only exposes the ABI names).
;;
;; Layout (little-endian, unaligned):
;;   address 1       u8   initialised flag
;;   address 4       u32  heap growth: bytes the heap grew by; the vault starts
;;                        at 65536 plus this (see "the vault" below)
;;   address 9       u64  position: bytes used by the bump pointer, from HEAP
;;   address 17      u64  length: allocator capacity counter
;;   address 25      u64  error offset (0 = none)
;;   address 33/41   u64  input offset / length
;;   address 49/57   u64  output offset / length
;;   address 65      first block header: u8 status, 3 pad, u32 size, u32 used
;;   data of a block starts 12 bytes after its header.
;;   [65536 + growth, end of memory)  the vault: the config and the vars
;;
;; The vault. The config and the vars live at the top of this memory, in its
;; last page(s), which plug-ins cannot reach. It is not a second memory: that
;; cost every new instance its own mapping, guard pages and page faults (about
;; 10-14 us per store, and RSS per plug-in). Where it sits:
;;   - at the top, not below the heap: the vault's size changes (config, vars)
;;     and so does the heap's, and block addresses cannot move; at the top only
;;     the vault moves, when the heap grows (by whole pages: $alloc copies the
;;     vault's written bytes up and zeroes what becomes heap, in the same
;;     straight-line code as the growth, so no interrupt or fuel check can
;;     fall in between). The heap never reaches it: alloc's blocks end more
;;     than 60 bytes below it (the capacity at address 17 is 65472 + growth,
;;     of which alloc keeps 64 back), and $in_heap stops at it.
;;   - the memory starts with 2 pages, the heap's and the vault's; the vault
;;     grows upwards (memory.grow) when the vars need room.
;;   - every entry point that takes a plug-in's address bounds it by the vault's
;;     start ("reach") where it bounded it by the memory's end before, so a
;;     vault address is refused exactly as an out-of-bounds one was: loads
;;     return 0, stores are ignored, length/free/input_set/output_set/error_set
;;     see no block. Handles (config_get, var_get, var_set) are live blocks,
;;     which lie in the heap.
;;   - the vault's pages do not draw from the page budget (memory.max_pages
;;     bounds the heap's growth and the plug-in's own memories, as before);
;;     the host bounds the vault by the config and memory.max_var_bytes
;;     (store limits, _plugin.py).
;;
;; Deliberate deviations from the reference kernel (observable only by guests
;; that scribble on kernel memory or read out of bounds; see ABI.md 3.5/3.6):
;;   - `length`/`free` walk blocks only up to the bump position, never into
;;     stale bytes past it, and every walk stops at a (forged) header whose
;;     block would end past it;
;;   - bounds checks are exact: an access that ends at the last byte below the
;;     vault works, one past it returns 0 / is ignored instead of trapping;
;;   - `alloc` of 2^32 bytes or more returns 0 (the memory is 32-bit).
;;   - `memory.max_pages` is one budget, kept here, for the growth of every
;;     memory of the plug-in (ABI.md 7.1): the kernel's own growth and the
;;     guest's rewritten `memory.grow` (wasmplug_budget) draw from it; a
;;     refusal traps (the host reports `oom`), like the reference's limiter.
(module
  ;; The host halves of config_get, var_get and var_set (_host_env.KERNEL_IMPORTS):
  ;; they get each handle with its length, already taken (see "host environment").
  (import "wasmplug:host" "config_get" (func $host_config_get (param i64 i64) (result i64)))
  (import "wasmplug:host" "var_get" (func $host_var_get (param i64 i64) (result i64)))
  (import "wasmplug:host" "var_set" (func $host_var_set (param i64 i64 i64 i64)))

  ;; Page 0: root record and heap; page 1: the vault (see above). At most
  ;; 65535 pages, so every address and the memory's end fit in an i32.
  (memory (export "memory") 2 65535)
  ;; memory.max_var_bytes (set by the host when it is not the default); 0: vars off.
  (global $var_limit (export "wasmplug_var_limit") (mut i64) (i64.const 1048576))

  ;; Pages the plug-in's memories may still grow by; -1 = unlimited. Set by
  ;; the host from `memory.max_pages` (wasmplug_budget).
  (global $page_budget (mut i64) (i64.const -1))
  ;; Set when the budget refused a growth (the allocation then traps, as the
  ;; reference's resource limiter does, so no caller can write through a null
  ;; handle); read and cleared by the host (wasmplug_budget).
  (global $oom (mut i32) (i32.const 0))

  ;; ---------------------------------------------------------------- helpers
  ;; Where the vault starts: the end of what plug-ins can address.
  (func $reach (result i64)
    (i64.add (i64.load32_u (i32.const 4)) (i64.const 65536)))
  (func $vault_at (result i32)
    (i32.add (i32.load (i32.const 4)) (i32.const 65536)))

  (func $init
    (if (i32.eqz (i32.load8_u (i32.const 1)))
      (then
        (i32.store8 (i32.const 1) (i32.const 1))
        (i64.store (i32.const 9) (i64.const 0))
        (i64.store (i32.const 17) (i64.const 65472))
        (i64.store (i32.const 25) (i64.const 0))
        (i64.store (i32.const 33) (i64.const 0))
        (i64.store (i32.const 41) (i64.const 0))
        (i64.store (i32.const 49) (i64.const 0))
        (i64.store (i32.const 57) (i64.const 0))
        (memory.fill (i32.const 65) (i32.const 0) (i32.const 12)))))

  ;; heap(p): HEAP <= p < HEAP + length, and below the vault
  (func $in_heap (param $p i64) (result i32)
    (i32.and
      (i32.and
        (i64.ge_u (local.get $p) (i64.const 65))
        (i64.lt_u (local.get $p) (i64.add (i64.const 65) (i64.load (i32.const 17)))))
      (i64.lt_u (local.get $p) (call $reach))))

  (func $status (param $h i64) (result i32) (i32.load8_u (i32.wrap_i64 (local.get $h))))
  (func $size (param $h i64) (result i64)
    (i64.load32_u offset=4 (i32.wrap_i64 (local.get $h))))
  (func $used (param $h i64) (result i64)
    (i64.load32_u offset=8 (i32.wrap_i64 (local.get $h))))

  ;; Header of the live block whose data starts exactly at p, or 0.
  (func $find_active (param $p i64) (result i64)
    (local $h i64) (local $end i64)
    (if (i64.lt_u (local.get $p) (i64.const 64)) (then (return (i64.const 0))))
    (if (i64.gt_u (local.get $p) (call $reach)) (then (return (i64.const 0))))
    (local.set $end (i64.add (i64.const 65) (i64.load (i32.const 9))))
    (local.set $h (i64.const 65))
    (block $done
      (loop $walk
        (br_if $done (i64.ge_u (local.get $h) (local.get $end)))
        (br_if $done (i32.eqz (call $block_ok (local.get $h) (local.get $end))))
        (if (i32.and
              (i32.eq (call $status (local.get $h)) (i32.const 1))
              (i64.eq (i64.add (local.get $h) (i64.const 12)) (local.get $p)))
          (then (return (local.get $h))))
        (local.set $h (i64.add (local.get $h) (i64.add (i64.const 12) (call $size (local.get $h)))))
        (br $walk)))
    (i64.const 0))

  ;; A header whose block would end past the bump position was forged (the
  ;; guest can scribble on kernel memory): walks stop there instead of
  ;; trusting it, so no split or write can land outside the heap.
  (func $block_ok (param $h i64) (param $end i64) (result i32)
    (i64.le_u (i64.add (i64.add (local.get $h) (i64.const 12)) (call $size (local.get $h)))
              (local.get $end)))

  ;; First free block (address order) that can hold n bytes, split from its
  ;; tail when it is at least 128 bytes too large; 0 if none.
  (func $find_reusable (param $n i64) (param $position i64) (result i64)
    (local $h i64) (local $end i64) (local $st i32) (local $size i64) (local $t i64)
    (local.set $end (i64.add (i64.const 65) (local.get $position)))
    (local.set $h (i64.const 65))
    (block $done
      (loop $walk
        (br_if $done (i64.ge_u (local.get $h) (local.get $end)))
        (br_if $done (i32.eqz (call $block_ok (local.get $h) (local.get $end))))
        (local.set $st (call $status (local.get $h)))
        (local.set $size (call $size (local.get $h)))
        (if (i32.eqz (local.get $st)) (then (return (local.get $h))))
        (if (i32.and (i32.eq (local.get $st) (i32.const 2))
                     (i64.ge_u (local.get $size) (local.get $n)))
          (then
            (if (i64.ge_u (i64.sub (local.get $size) (local.get $n)) (i64.const 128))
              (then
                (local.set $size (i64.sub (i64.sub (local.get $size) (local.get $n)) (i64.const 12)))
                (i32.store offset=4 (i32.wrap_i64 (local.get $h)) (i32.wrap_i64 (local.get $size)))
                (i32.store offset=8 (i32.wrap_i64 (local.get $h)) (i32.const 0))
                (local.set $t (i64.add (i64.add (local.get $h) (i64.const 12)) (local.get $size)))
                (i32.store offset=4 (i32.wrap_i64 (local.get $t)) (i32.wrap_i64 (local.get $n)))
                (i32.store offset=8 (i32.wrap_i64 (local.get $t)) (i32.const 0))
                (i32.store8 (i32.wrap_i64 (local.get $t)) (i32.const 2))
                (return (local.get $t))))
            (return (local.get $h))))
        (local.set $h (i64.add (local.get $h) (i64.add (i64.const 12) (local.get $size))))
        (br $walk)))
    (i64.const 0))

  ;; ------------------------------------------------------------ allocator
  (func $alloc (export "alloc") (param $n i64) (result i64)
    (local $position i64) (local $length i64) (local $left i64) (local $need i64)
    (local $h i64) (local $pages i64) (local $at i32) (local $d i32) (local $w i32)
    (if (i64.eqz (local.get $n)) (then (return (i64.const 0))))
    (if (i64.gt_u (local.get $n) (i64.const 0xffffffff)) (then (return (i64.const 0))))
    (call $init)
    (local.set $position (i64.load (i32.const 9)))
    (local.set $length (i64.load (i32.const 17)))
    (local.set $left (i64.sub (i64.sub (local.get $length) (local.get $position)) (i64.const 64)))
    (local.set $need (i64.add (local.get $n) (i64.const 12)))
    (if (i64.ge_u (local.get $need) (local.get $left))
      (then
        (if (i64.le_u (local.get $need) (local.get $position))
          (then
            (local.set $h (call $find_reusable (local.get $n) (local.get $position)))
            (if (i64.ne (local.get $h) (i64.const 0))
              (then
                (i32.store offset=8 (i32.wrap_i64 (local.get $h)) (i32.wrap_i64 (local.get $n)))
                (i32.store8 (i32.wrap_i64 (local.get $h)) (i32.const 1))
                (return (i64.add (local.get $h) (i64.const 12)))))))
        (local.set $pages
          (i64.div_u (i64.add (i64.sub (local.get $need) (local.get $left)) (i64.const 65535))
                     (i64.const 65536)))
        (if (i64.gt_u (local.get $pages) (i64.const 65536)) (then (return (i64.const 0))))
        (if (i64.ge_s (global.get $page_budget) (i64.const 0))
          (then
            (if (i64.gt_u (local.get $pages) (global.get $page_budget))
              (then (global.set $oom (i32.const 1)) (unreachable)))))
        (if (i32.eq (memory.grow (i32.wrap_i64 (local.get $pages))) (i32.const -1))
          (then (return (i64.const 0))))
        ;; The new pages go to the heap: the vault moves up by as much (its
        ;; written bytes; what it leaves becomes heap and is zeroed, as the heap
        ;; past the bump position always is). Straight-line code, no call: no
        ;; interrupt or fuel check falls between the growth and the move.
        (local.set $d (i32.shl (i32.wrap_i64 (local.get $pages)) (i32.const 16)))
        (local.set $at (i32.add (i32.load (i32.const 4)) (i32.const 65536)))
        (local.set $w (i32.load offset=20 (local.get $at)))
        (memory.copy (i32.add (local.get $at) (local.get $d)) (local.get $at) (local.get $w))
        (memory.fill (local.get $at) (i32.const 0)
          (select (local.get $d) (local.get $w) (i32.lt_u (local.get $d) (local.get $w))))
        (i32.store (i32.const 4) (i32.add (i32.load (i32.const 4)) (local.get $d)))
        (if (i64.ge_s (global.get $page_budget) (i64.const 0))
          (then (global.set $page_budget (i64.sub (global.get $page_budget) (local.get $pages)))))
        (i64.store (i32.const 17)
          (i64.add (local.get $length) (i64.shl (local.get $pages) (i64.const 16))))))
    (local.set $h (i64.add (i64.const 65) (local.get $position)))
    (i64.store (i32.const 9) (i64.add (local.get $position) (local.get $need)))
    (i32.store8 (i32.wrap_i64 (local.get $h)) (i32.const 1))
    (i32.store offset=4 (i32.wrap_i64 (local.get $h)) (i32.wrap_i64 (local.get $n)))
    (i32.store offset=8 (i32.wrap_i64 (local.get $h)) (i32.wrap_i64 (local.get $n)))
    (i64.add (local.get $h) (i64.const 12)))

  (func $free (export "free") (param $p i64)
    (local $h i64)
    (if (i64.eqz (local.get $p)) (then (return)))
    (call $init)
    (local.set $h (call $find_active (local.get $p)))
    (if (i64.eqz (local.get $h)) (then (return)))
    (i32.store8 (i32.wrap_i64 (local.get $h)) (i32.const 2))
    (if (i64.eq (local.get $p) (i64.load (i32.const 33)))
      (then (i64.store (i32.const 41) (i64.const 0)))))

  (func $length (export "length") (param $p i64) (result i64)
    (local $h i64)
    (if (i64.eqz (local.get $p)) (then (return (i64.const 0))))
    (call $init)
    (local.set $h (call $find_active (local.get $p)))
    (if (i64.eqz (local.get $h)) (then (return (i64.const 0))))
    (call $used (local.get $h)))

  (func (export "length_unsafe") (param $p i64) (result i64)
    (local $h i64)
    (if (i64.lt_u (local.get $p) (i64.const 64)) (then (return (i64.const 0))))
    (if (i64.gt_u (local.get $p) (call $reach)) (then (return (i64.const 0))))
    (local.set $h (i64.sub (local.get $p) (i64.const 12)))
    (if (i32.ne (call $status (local.get $h)) (i32.const 1)) (then (return (i64.const 0))))
    (call $used (local.get $h)))

  ;; ------------------------------------------------------------ raw access
  ;; Bounded by the vault's start ($reach, inline: these run once per 8 bytes a
  ;; plug-in reads or writes, and a call showed in profiles).
  (func (export "load_u8") (param $p i64) (result i32)
    (if (i32.or (i64.lt_u (local.get $p) (i64.const 64))
                (i64.ge_u (local.get $p) (i64.add (i64.load32_u (i32.const 4)) (i64.const 65536))))
      (then (return (i32.const 0))))
    (i32.load8_u (i32.wrap_i64 (local.get $p))))

  (func (export "load_u64") (param $p i64) (result i64)
    (if (i32.or (i64.lt_u (local.get $p) (i64.const 57))
                (i64.gt_u (local.get $p) (i64.sub (i64.add (i64.load32_u (i32.const 4)) (i64.const 65536)) (i64.const 8))))
      (then (return (i64.const 0))))
    (i64.load (i32.wrap_i64 (local.get $p))))

  (func (export "store_u8") (param $p i64) (param $v i32)
    (if (i32.or (i64.lt_u (local.get $p) (i64.const 64))
                (i64.ge_u (local.get $p) (i64.add (i64.load32_u (i32.const 4)) (i64.const 65536))))
      (then (return)))
    (i32.store8 (i32.wrap_i64 (local.get $p)) (local.get $v)))

  (func (export "store_u64") (param $p i64) (param $v i64)
    (if (i32.or (i64.lt_u (local.get $p) (i64.const 57))
                (i64.gt_u (local.get $p) (i64.sub (i64.add (i64.load32_u (i32.const 4)) (i64.const 65536)) (i64.const 8))))
      (then (return)))
    (i64.store (i32.wrap_i64 (local.get $p)) (local.get $v)))

  ;; ------------------------------------------------------------ input
  (func (export "input_offset") (result i64) (i64.load (i32.const 33)))
  (func (export "input_length") (result i64) (i64.load (i32.const 41)))

  (func (export "input_load_u8") (param $i i64) (result i32)
    (if (i64.ge_u (local.get $i) (i64.load (i32.const 41))) (then (return (i32.const 0))))
    (i32.load8_u (i32.wrap_i64 (i64.add (i64.load (i32.const 33)) (local.get $i)))))

  (func (export "input_load_u64") (param $i i64) (result i64)
    (local $len i64)
    (local.set $len (i64.load (i32.const 41)))
    (if (i32.or (i64.lt_u (local.get $len) (i64.const 8))
                (i64.gt_u (local.get $i) (i64.sub (local.get $len) (i64.const 8))))
      (then (return (i64.const 0))))
    (i64.load (i32.wrap_i64 (i64.add (i64.load (i32.const 33)) (local.get $i)))))

  ;; A range is accepted only when it lies inside the heap.
  (func $range_ok (param $p i64) (param $n i64) (result i32)
    (if (i64.eqz (local.get $p)) (then (return (i32.const 0))))
    (if (i64.gt_u (local.get $n) (i64.load (i32.const 17))) (then (return (i32.const 0))))
    (i32.and (call $in_heap (local.get $p))
             (call $in_heap (i64.sub (i64.add (local.get $p) (local.get $n)) (i64.const 1)))))

  (func $input_set (export "input_set") (param $p i64) (param $n i64)
    (call $init)
    (if (call $range_ok (local.get $p) (local.get $n))
      (then
        (i64.store (i32.const 33) (local.get $p))
        (i64.store (i32.const 41) (local.get $n)))))

  ;; ------------------------------------------------------------ output, error
  (func (export "output_set") (param $p i64) (param $n i64)
    (call $init)
    (if (call $range_ok (local.get $p) (local.get $n))
      (then
        (i64.store (i32.const 49) (local.get $p))
        (i64.store (i32.const 57) (local.get $n)))))
  (func (export "output_offset") (result i64) (i64.load (i32.const 49)))
  (func (export "output_length") (result i64) (i64.load (i32.const 57)))

  (func (export "error_set") (param $p i64)
    (call $init)
    (if (i64.eqz (local.get $p))
      (then (i64.store (i32.const 25) (i64.const 0)) (return)))
    (if (call $in_heap (local.get $p))
      (then (i64.store (i32.const 25) (local.get $p)))))
  (func (export "error_get") (result i64) (i64.load (i32.const 25)))

  ;; ------------------------------------------------------------ reset
  ;; Zeroes only what the allocator handed out since the last reset, so its
  ;; cost follows the previous call's allocations, never the memory size.
  (func $reset (export "reset")
    (call $init)
    (memory.fill (i32.const 65) (i32.const 0) (i32.wrap_i64 (i64.load (i32.const 9))))
    (i64.store (i32.const 9) (i64.const 0))
    (i64.store (i32.const 25) (i64.const 0))
    (i64.store (i32.const 33) (i64.const 0))
    (i64.store (i32.const 41) (i64.const 0))
    (i64.store (i32.const 49) (i64.const 0))
    (i64.store (i32.const 57) (i64.const 0)))

  (func (export "memory_bytes") (result i64)
    (call $init)
    (i64.load (i32.const 17)))

  ;; ------------------------------------------------------------ host only
  ;; One Wasm call at the start of every plug-in call: reset, then reserve
  ;; and register n bytes of input. Returns the input offset; 0 when n is 0,
  ;; or when the input could not be allocated (the host knows n).
  ;; The first 12 + n bytes of the heap are about to be overwritten by the
  ;; input's header and data, so only the rest of the old heap is zeroed.
  (func (export "wasmplug_begin_call") (param $n i64) (result i64)
    (local $p i64) (local $used i64) (local $skip i64)
    (call $init)
    (local.set $used (i64.load (i32.const 9)))
    (local.set $skip (select (i64.add (local.get $n) (i64.const 12)) (i64.const 0)
                             (i64.ne (local.get $n) (i64.const 0))))
    (if (i64.gt_u (local.get $used) (local.get $skip))
      (then
        (memory.fill (i32.wrap_i64 (i64.add (i64.const 65) (local.get $skip))) (i32.const 0)
                     (i32.wrap_i64 (i64.sub (local.get $used) (local.get $skip))))))
    (i64.store (i32.const 9) (i64.const 0))
    (i64.store (i32.const 25) (i64.const 0))
    (i64.store (i32.const 33) (i64.const 0))
    (i64.store (i32.const 41) (i64.const 0))
    (i64.store (i32.const 49) (i64.const 0))
    (i64.store (i32.const 57) (i64.const 0))
    (if (i64.eqz (local.get $n)) (then (return (i64.const 0))))
    ;; Unless the input surely fits without growing (then it cannot fail and
    ;; overwrites the skipped bytes), zero them now: the allocation may fail,
    ;; or trap on the page budget, and the heap must still be clean.
    (if (i32.eqz (i32.and
          (i64.le_u (local.get $n) (i64.const 0xffffffff))
          (i64.lt_u (i64.add (local.get $n) (i64.const 12))
                    (i64.sub (i64.load (i32.const 17)) (i64.const 64)))))
      (then
        (memory.fill (i32.const 65) (i32.const 0)
          (i32.wrap_i64 (select (local.get $skip) (local.get $used)
                                (i64.lt_u (local.get $skip) (local.get $used)))))))
    (local.set $p (call $alloc (local.get $n)))
    (if (i64.ne (local.get $p) (i64.const 0))
      (then (call $input_set (local.get $p) (local.get $n))))
    (local.get $p))

  ;; Length of the live block at p, which is then freed (the bytes stay
  ;; readable until the next allocation): how the host consumes a handle.
  (func $take (export "wasmplug_take") (param $p i64) (result i64)
    (local $n i64)
    (local.set $n (call $length (local.get $p)))
    (if (i64.ne (local.get $n) (i64.const 0)) (then (call $free (local.get $p))))
    (local.get $n))

  ;; ------------------------------------------------------------ config and vars
  ;; The config and the vars live in the vault, at the top of this memory (see
  ;; "The vault" at the top), which no plug-in can address: every entry point
  ;; that takes an address stops below it, and handles are heap blocks.
  ;; Layout, from the vault's start ($vault_at):
  ;;   vault 16  u32  config region length in bytes
  ;;   vault 20  u32  written: bytes from the vault's start ever written (what
  ;;                  moves when the heap grows; 0 while the vault is all zero)
  ;;   vault 64  config entries, then the vars table (at 64 + config length)
  ;;   entry     u32 key length + 1, u32 value length, key bytes, value bytes
  ;;   the vars table ends at a u32 0 (so an all-zero vault is an empty one)
  ;; The host writes the config region (under the plug-in's lock, between
  ;; calls) and may also set or delete vars itself (_kernel.Vault).
  ;;
  ;; config_get, var_get and var_set answer here without calling the host when
  ;; the key is a live block of ASCII bytes and, for var_set, vars are on and
  ;; the new entry fits in the limit. Anything else goes to the host's half
  ;; (_host_env), which has the whole story: the error messages, UTF-8 keys.
  ;;
  ;; A var_set builds the table's new tail past its end, then moves it into
  ;; place with ONE memory.copy: a call cut short (a timeout, fuel) at any
  ;; point leaves the table as it was before or after, never half-updated.
  ;; Addresses below are absolute (memory 0); only $lookup allocates (the heap
  ;; may grow and the vault move), and it re-bases its entry afterwards.

  ;; Walk results (of the last $walk): where the table ends, what its vars count
  ;; against memory.max_var_bytes (48 + key + value bytes each).
  (global $walk_end (mut i32) (i32.const 0))
  (global $walk_usage (mut i64) (i64.const 0))

  ;; 1 if the n bytes at p are all ASCII.
  (func $ascii (param $p i32) (param $n i32) (result i32)
    (local $end i32)
    (local.set $end (i32.add (local.get $p) (local.get $n)))
    (block $bytes
      (loop $words
        (br_if $bytes (i32.gt_u (i32.add (local.get $p) (i32.const 8)) (local.get $end)))
        (if (i64.ne (i64.and (i64.load (local.get $p)) (i64.const 0x8080808080808080))
                    (i64.const 0))
          (then (return (i32.const 0))))
        (local.set $p (i32.add (local.get $p) (i32.const 8)))
        (br $words)))
    (block $done
      (loop $each
        (br_if $done (i32.ge_u (local.get $p) (local.get $end)))
        (if (i32.ge_u (i32.load8_u (local.get $p)) (i32.const 0x80)) (then (return (i32.const 0))))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (br $each)))
    (i32.const 1))

  ;; 1 if the n bytes at a (in the vault) equal those at b (a block).
  (func $same (param $a i32) (param $b i32) (param $n i32) (result i32)
    (local $end i32)
    (local.set $end (i32.add (local.get $a) (local.get $n)))
    (block $bytes
      (loop $words
        (br_if $bytes (i32.gt_u (i32.add (local.get $a) (i32.const 8)) (local.get $end)))
        (if (i64.ne (i64.load (local.get $a)) (i64.load (local.get $b)))
          (then (return (i32.const 0))))
        (local.set $a (i32.add (local.get $a) (i32.const 8)))
        (local.set $b (i32.add (local.get $b) (i32.const 8)))
        (br $words)))
    (block $done
      (loop $each
        (br_if $done (i32.ge_u (local.get $a) (local.get $end)))
        (if (i32.ne (i32.load8_u (local.get $a)) (i32.load8_u (local.get $b)))
          (then (return (i32.const 0))))
        (local.set $a (i32.add (local.get $a) (i32.const 1)))
        (local.set $b (i32.add (local.get $b) (i32.const 1)))
        (br $each)))
    (i32.const 1))

  ;; The address of the entry whose key is the n bytes at key (a block), among
  ;; the entries from p up to a 0 word or to limit; 0 if none. Sets $walk_end
  ;; and $walk_usage for the whole walk.
  (func $walk (param $p i32) (param $limit i32) (param $key i32) (param $n i32) (result i32)
    (local $next i32) (local $k i32) (local $found i32) (local $usage i64)
    (block $done
      (loop $entries
        (br_if $done (i32.gt_u (i32.add (local.get $p) (i32.const 8)) (local.get $limit)))
        (local.set $k (i32.load (local.get $p)))
        (br_if $done (i32.eqz (local.get $k)))
        (local.set $k (i32.sub (local.get $k) (i32.const 1)))
        (local.set $next (i32.add (i32.add (local.get $p) (i32.const 8))
          (i32.add (local.get $k) (i32.load offset=4 (local.get $p)))))
        (br_if $done (i32.gt_u (local.get $next) (local.get $limit)))
        (br_if $done (i32.lt_u (local.get $next) (local.get $p)))
        (local.set $usage (i64.add (local.get $usage)
          (i64.extend_i32_u (i32.add (i32.sub (local.get $next) (local.get $p)) (i32.const 40)))))
        (if (i32.and (i32.eqz (local.get $found)) (i32.eq (local.get $k) (local.get $n)))
          (then
            (if (call $same (i32.add (local.get $p) (i32.const 8)) (local.get $key) (local.get $n))
              (then (local.set $found (local.get $p))))))
        (local.set $p (local.get $next))
        (br $entries)))
    (global.set $walk_end (local.get $p))
    (global.set $walk_usage (local.get $usage))
    (local.get $found))

  ;; The end of the vault: the end of the memory (at most 65535 pages: fits an i32).
  (func $vault_end (result i32) (i32.shl (memory.size) (i32.const 16)))
  (func $config_start (result i32) (i32.add (call $vault_at) (i32.const 64)))
  (func $vars_start (result i32)
    (local $at i32)
    (local.set $at (call $vault_at))
    (i32.add (i32.add (local.get $at) (i32.const 64)) (i32.load offset=16 (local.get $at))))

  ;; config_get / var_get: a new block holding the value of key (n bytes, taken)
  ;; among the entries in [start, limit); 0 if none (or empty); -1: the host's
  ;; half decides (an invalid handle, a key that is not ASCII, no room).
  (func $lookup (param $key i64) (param $n i64) (param $start i32) (param $limit i32) (result i64)
    (local $e i32) (local $v i32) (local $out i64)
    (if (i64.eqz (local.get $n)) (then (return (i64.const -1))))
    (if (i32.eqz (call $ascii (i32.wrap_i64 (local.get $key)) (i32.wrap_i64 (local.get $n))))
      (then (return (i64.const -1))))
    (local.set $e (call $walk (local.get $start) (local.get $limit) (i32.wrap_i64 (local.get $key))
                              (i32.wrap_i64 (local.get $n))))
    (if (i32.eqz (local.get $e)) (then (return (i64.const 0))))
    (local.set $v (i32.load offset=4 (local.get $e)))
    (if (i32.eqz (local.get $v)) (then (return (i64.const 0))))
    ;; the allocation may grow the heap, which moves the vault: keep e relative
    (local.set $e (i32.sub (local.get $e) (call $vault_at)))
    (local.set $out (call $alloc (i64.extend_i32_u (local.get $v))))
    (if (i64.eqz (local.get $out)) (then (return (i64.const -1))))
    (memory.copy (i32.wrap_i64 (local.get $out))
      (i32.add (i32.add (call $vault_at) (local.get $e))
               (i32.add (i32.const 8) (i32.wrap_i64 (local.get $n))))
      (local.get $v))
    (local.get $out))

  ;; Room in the vault up to address end (the memory grown if needed, outside
  ;; the page budget); 0 if it cannot grow. Marks the bytes up to end written.
  (func $vault_room (param $end i64) (result i32)
    (local $have i64) (local $pages i64) (local $at i32)
    (local.set $have (i64.extend_i32_u (call $vault_end)))
    (if (i64.gt_u (local.get $end) (local.get $have))
      (then
        (local.set $pages (i64.shr_u (i64.add (i64.sub (local.get $end) (local.get $have))
                                              (i64.const 65535)) (i64.const 16)))
        (if (i64.gt_u (local.get $pages) (i64.const 65535)) (then (return (i32.const 0))))
        (if (i32.eq (memory.grow (i32.wrap_i64 (local.get $pages))) (i32.const -1))
          (then (return (i32.const 0))))))
    (local.set $at (call $vault_at))
    (if (i32.gt_u (i32.sub (i32.wrap_i64 (local.get $end)) (local.get $at))
                  (i32.load offset=20 (local.get $at)))
      (then (i32.store offset=20 (local.get $at)
                       (i32.sub (i32.wrap_i64 (local.get $end)) (local.get $at)))))
    (i32.const 1))

  ;; ------------------------------------------------------------ host environment
  ;; The plug-in imports these three from `extism:host/env`. Each takes the
  ;; handles it was given, in Wasm, and answers from the vault (above); only
  ;; what the vault path does not take goes to the host, with each handle and
  ;; its length (0 for an invalid handle): the host reads the bytes (readable
  ;; until the next allocation) and allocates any result itself.
  (func (export "config_get") (param $key i64) (result i64)
    (local $n i64) (local $out i64)
    (local.set $n (call $take (local.get $key)))
    (local.set $out (call $lookup (local.get $key) (local.get $n) (call $config_start)
                                  (call $vars_start)))
    (if (i64.ne (local.get $out) (i64.const -1)) (then (return (local.get $out))))
    (call $host_config_get (local.get $key) (local.get $n)))

  (func (export "var_get") (param $key i64) (result i64)
    (local $n i64) (local $out i64)
    (local.set $n (call $take (local.get $key)))
    (local.set $out (call $lookup (local.get $key) (local.get $n) (call $vars_start)
                                  (call $vault_end)))
    (if (i64.ne (local.get $out) (i64.const -1)) (then (return (local.get $out))))
    (call $host_var_get (local.get $key) (local.get $n)))

  (func (export "var_set") (param $key i64) (param $value i64)
    (local $n i64) (local $vn i64) (local $k i32) (local $v i32) (local $old i32) (local $end i32)
    (local $tail i32) (local $size i32) (local $s i32) (local $e i32)
    (local.set $n (call $take (local.get $key)))
    (local.set $vn (call $take (local.get $value)))
    (block $slow
      (br_if $slow (i64.eqz (local.get $n)))
      (br_if $slow (i64.eqz (global.get $var_limit)))
      (br_if $slow (i32.and (i64.ne (local.get $value) (i64.const 0)) (i64.eqz (local.get $vn))))
      (br_if $slow (i32.eqz (call $ascii (i32.wrap_i64 (local.get $key)) (i32.wrap_i64 (local.get $n)))))
      (local.set $k (i32.wrap_i64 (local.get $n)))
      (local.set $v (i32.wrap_i64 (local.get $vn)))
      (local.set $old (call $walk (call $vars_start) (call $vault_end)
                                  (i32.wrap_i64 (local.get $key)) (local.get $k)))
      (local.set $end (global.get $walk_end))
      ;; the reference counts an existing entry of the same key too (ABI.md 2.4)
      (br_if $slow (i32.and (i64.ne (local.get $value) (i64.const 0))
        (i64.gt_u (i64.add (i64.add (i64.const 48) (i64.add (local.get $n) (local.get $vn)))
                           (global.get $walk_usage))
                  (global.get $var_limit))))
      (if (local.get $old)
        (then
          (local.set $e (i32.add (i32.add (local.get $old) (i32.const 8))
                                 (i32.add (local.get $k) (i32.load offset=4 (local.get $old)))))
          (if (i32.and (i64.ne (local.get $value) (i64.const 0))
                       (i32.eq (i32.load offset=4 (local.get $old)) (local.get $v)))
            (then  ;; the same size: the new value over the old one, one copy
              (memory.copy (i32.add (local.get $old) (i32.add (i32.const 8) (local.get $k)))
                           (i32.wrap_i64 (local.get $value)) (local.get $v))
              (return)))
          (local.set $tail (i32.sub (local.get $end) (local.get $e))))
        (else
          (if (i64.eqz (local.get $value)) (then (return)))))  ;; nothing to delete
      (local.set $size (select (i32.add (i32.const 8) (i32.add (local.get $k) (local.get $v)))
                               (i32.const 0) (i64.ne (local.get $value) (i64.const 0))))
      ;; the new tail, past the end: the entries after the old one, the new
      ;; entry, the 0 that ends the table
      (local.set $s (i32.add (local.get $end) (i32.const 4)))
      (br_if $slow (i32.eqz (call $vault_room (i64.add (i64.extend_i32_u (local.get $s))
        (i64.extend_i32_u (i32.add (local.get $tail) (i32.add (local.get $size) (i32.const 4))))))))
      (memory.copy (local.get $s) (local.get $e) (local.get $tail))
      (local.set $e (i32.add (local.get $s) (local.get $tail)))
      (if (local.get $size)
        (then
          (i32.store (local.get $e) (i32.add (local.get $k) (i32.const 1)))
          (i32.store offset=4 (local.get $e) (local.get $v))
          (memory.copy (i32.add (local.get $e) (i32.const 8)) (i32.wrap_i64 (local.get $key))
                       (local.get $k))
          (memory.copy (i32.add (local.get $e) (i32.add (i32.const 8) (local.get $k)))
                       (i32.wrap_i64 (local.get $value)) (local.get $v))))
      (i32.store (i32.add (local.get $e) (local.get $size)) (i32.const 0))
      ;; the commit: one copy, over the old entry (or the old end)
      (memory.copy (select (local.get $old) (local.get $end) (local.get $old))
                   (local.get $s) (i32.add (local.get $tail) (i32.add (local.get $size) (i32.const 4))))
      (return))
    (call $host_var_set (local.get $key) (local.get $n) (local.get $value) (local.get $vn)))

  ;; The page budget, one entry point (each kernel export costs every store a
  ;; linker entry): $v = pages << 2 | op.
  ;;   op 0, the guest's rewritten `memory.grow` (memory_budget.py) before
  ;;        growing: over the budget it traps `oom`, else it takes the pages;
  ;;   op 1, the same when the grow itself was refused: the pages go back
  ;;        and the growth traps `oom` too, as under the reference's limiter;
  ;;   op 2, the host sets the budget (pages = 2^62 - 1: unlimited);
  ;;   op 3, the host takes the flag "the budget refused a growth" (1 or 0).
  (func (export "wasmplug_budget") (param $v i64) (result i64)
    (local $op i32) (local $pages i64) (local $hit i64)
    (local.set $op (i32.wrap_i64 (i64.and (local.get $v) (i64.const 3))))
    (local.set $pages (i64.shr_u (local.get $v) (i64.const 2)))
    (if (i32.eq (local.get $op) (i32.const 3))
      (then
        (local.set $hit (i64.extend_i32_u (global.get $oom)))
        (global.set $oom (i32.const 0))
        (return (local.get $hit))))
    (if (i32.eq (local.get $op) (i32.const 2))
      (then
        (global.set $page_budget
          (select (i64.const -1) (local.get $pages)
                  (i64.eq (local.get $pages) (i64.const 0x3fffffffffffffff))))
        (return (i64.const 0))))
    (if (i64.lt_s (global.get $page_budget) (i64.const 0)) (then (return (i64.const 0))))
    (if (local.get $op)
      (then
        (global.set $page_budget (i64.add (global.get $page_budget) (local.get $pages)))
        (global.set $oom (i32.const 1))
        (unreachable)))
    (if (i64.gt_u (local.get $pages) (global.get $page_budget))
      (then (global.set $oom (i32.const 1)) (unreachable)))
    (global.set $page_budget (i64.sub (global.get $page_budget) (local.get $pages)))
    (i64.const 0))
)
