"""The vault is out of every plug-in's reach (kernel.wat, "The vault").

The config and the vars live at the top of the kernel's memory. Every kernel
function that takes an address from a plug-in must refuse one inside the vault
exactly as it refuses one past the end of the memory; allocation must never hand
out vault bytes; and the vault must keep its contents when the heap grows (it
moves up) and across resets. The page budget (memory.max_pages) is the heap's
and the plug-in's memories': the vault's pages do not draw from it.
"""

from __future__ import annotations

import contextlib
import struct
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wasmplug import CallError, CompiledPlugin, CurrentPlugin, Function, Memory, Plugin, Val, ValType
from wasmplug._kernel import Kernel

pytestmark = pytest.mark.usefixtures("call_path")

PAGE = 65_536
OUT_OF_BOUNDS = 1 << 40  # far past any memory: the reference for "refused"

# Each export reads an address from the input (u64 at 0), hands it to one kernel
# function and outputs what it returned as a u64 (or nothing).
PROBE_WAT = """
(module
  (import "extism:host/env" "input_load_u64" (func $input_load_u64 (param i64) (result i64)))
  (import "extism:host/env" "alloc" (func $alloc (param i64) (result i64)))
  (import "extism:host/env" "load_u8" (func $load_u8 (param i64) (result i32)))
  (import "extism:host/env" "load_u64" (func $load_u64 (param i64) (result i64)))
  (import "extism:host/env" "store_u8" (func $store_u8 (param i64 i32)))
  (import "extism:host/env" "store_u64" (func $store_u64 (param i64 i64)))
  (import "extism:host/env" "length" (func $length (param i64) (result i64)))
  (import "extism:host/env" "length_unsafe" (func $length_unsafe (param i64) (result i64)))
  (import "extism:host/env" "free" (func $free (param i64)))
  (import "extism:host/env" "input_set" (func $input_set (param i64 i64)))
  (import "extism:host/env" "input_offset" (func $input_offset (result i64)))
  (import "extism:host/env" "input_length" (func $input_length (result i64)))
  (import "extism:host/env" "output_set" (func $output_set (param i64 i64)))
  (import "extism:host/env" "error_set" (func $error_set (param i64)))
  (import "extism:host/env" "error_get" (func $error_get (result i64)))
  (import "extism:host/env" "config_get" (func $config_get (param i64) (result i64)))
  (import "extism:host/env" "var_get" (func $var_get (param i64) (result i64)))
  (import "extism:host/env" "var_set" (func $var_set (param i64 i64)))
  (import "extism:host/user" "peek" (func $peek (param i64) (result i64)))
  (func $addr (result i64) (call $input_load_u64 (i64.const 0)))
  (func $out (param $v i64) (result i32)
    (local $p i64)
    (local.set $p (call $alloc (i64.const 8)))
    (call $store_u64 (local.get $p) (local.get $v))
    (call $output_set (local.get $p) (i64.const 8))
    (i32.const 0))
  (func (export "load_u8") (result i32) (call $out (i64.extend_i32_u (call $load_u8 (call $addr)))))
  (func (export "load_u64") (result i32) (call $out (call $load_u64 (call $addr))))
  (func (export "store_u8") (result i32) (call $store_u8 (call $addr) (i32.const 0x5a)) (i32.const 0))
  (func (export "store_u64") (result i32)
    (call $store_u64 (call $addr) (i64.const 0x5a5a5a5a5a5a5a5a)) (i32.const 0))
  (func (export "length") (result i32) (call $out (call $length (call $addr))))
  (func (export "length_unsafe") (result i32) (call $out (call $length_unsafe (call $addr))))
  (func (export "free") (result i32) (call $free (call $addr)) (i32.const 0))
  (func (export "input_set") (result i32)
    (local $before i64)
    (local.set $before (call $input_offset))
    (call $input_set (call $addr) (i64.const 16))
    ;; 1 if the input registers moved
    (call $out (i64.extend_i32_u (i32.or (i64.ne (call $input_offset) (local.get $before))
                                         (i64.ne (call $input_length) (i64.const 8))))))
  (func (export "output_set") (result i32)
    (call $output_set (call $addr) (i64.const 16)) (i32.const 0))
  (func (export "error_set") (result i32)
    (call $error_set (call $addr))
    (local.set 0 (call $error_get))
    (call $error_set (i64.const 0))
    (call $out (local.get 0)))
  (func (export "config_get") (result i32) (call $out (call $config_get (call $addr))))
  (func (export "var_get") (result i32) (call $out (call $var_get (call $addr))))
  (func (export "var_set") (result i32) (call $var_set (call $addr) (call $addr)) (i32.const 0))
  ;; output: a block of 16, then its length scribbled (address 57) to end at the address
  (func (export "output_scribble") (result i32)
    (local $p i64)
    (local.set $p (call $alloc (i64.const 16)))
    (call $output_set (local.get $p) (i64.const 16))
    (call $store_u64 (i64.const 57) (i64.sub (call $addr) (local.get $p)))
    (i32.const 0))
  ;; the host function "peek" gets the address
  (func (export "peek") (result i32) (call $out (call $peek (call $addr))))
)
"""
# (error_set's `local.set 0` needs a local: the WAT above declares none, so add one)
PROBE_WAT = PROBE_WAT.replace(
    '(func (export "error_set") (result i32)\n',
    '(func (export "error_set") (result i32) (local i64)\n')

# "forged" is a block header (status 1 = live, size 5, used 5) for length_unsafe to find
FORGED = "\x01\x00\x00\x00\x05\x00\x00\x00\x05\x00\x00\x00"
CONFIG = {"secret": "S3CR3T-value", "other": "x" * 300, "forged": FORGED}


def kernel_of(plugin: Plugin) -> Kernel:
    kernel = plugin._kernel
    kernel.refresh()
    return kernel


def vault_start(plugin: Plugin) -> int:
    kernel = kernel_of(plugin)
    start: int = 65_536 + struct.unpack_from("<I", kernel.view, 4)[0]
    return start


def vault_image(plugin: Plugin) -> bytes:
    """The vault's bytes, from its start to the memory's end."""
    kernel = kernel_of(plugin)
    return kernel.view[vault_start(plugin):kernel.size].tobytes()


def probe(plugin: Plugin, name: str, address: int) -> bytes:
    return plugin.call(name, struct.pack("<Q", address))


def vault_addresses(plugin: Plugin) -> list[int]:
    """Addresses inside the vault: its first byte, the config length, the first entry's
    key and value, the data of the forged block, the last 8 bytes of the memory, its last byte."""
    at, end = vault_start(plugin), kernel_of(plugin).size
    forged = at + vault_image(plugin).index(FORGED.encode()) + 12
    return [at, at + 16, at + 64, at + 72, at + 78, forged, end - 8, end - 1]


def _peek(plugin: CurrentPlugin, params: list[Val], results: list[Val], _: None) -> None:
    """A host function reading 8 bytes at the address the plug-in gives it."""
    results[0].value = int.from_bytes(bytes(plugin.memory(Memory(params[0].value, 8))[:]), "little")


PEEK = Function("extism:host/user", "peek", [ValType.I64], [ValType.I64], _peek, None)


def loaded_probe(**manifest: Any) -> Plugin:
    plugin = Plugin({"wasm": [{"data": PROBE_WAT.encode()}], **manifest}, config=CONFIG,
                    functions=[PEEK])
    plugin.vars["v"] = b"var value"
    probe(plugin, "load_u8", 0)  # the first call loads the config into the vault
    image = vault_image(plugin)
    assert b"S3CR3T-value" in image and b"var value" in image
    return plugin


def test_the_vault_holds_the_config_and_vars_at_the_top_of_the_kernel_memory() -> None:
    plugin = loaded_probe()
    at = vault_start(plugin)
    assert at == PAGE  # the heap has not grown: the vault is the second page
    assert kernel_of(plugin).size == 2 * PAGE
    image = vault_image(plugin)
    assert image[72:78] == b"secret" and image[78:90] == b"S3CR3T-value"


@pytest.mark.parametrize("name", ["load_u8", "load_u64", "length", "length_unsafe", "input_set",
                                  "error_set"])
def test_a_vault_address_reads_as_out_of_bounds(name: str) -> None:
    plugin = loaded_probe()
    refused = probe(plugin, name, OUT_OF_BOUNDS)
    assert refused == bytes(8)  # 0: nothing loaded, no block, registers unchanged
    before = vault_image(plugin)
    for address in vault_addresses(plugin):
        assert probe(plugin, name, address) == refused, (name, address - vault_start(plugin))
    assert vault_image(plugin) == before


def test_the_last_bytes_below_the_vault_are_the_plugins() -> None:
    plugin = loaded_probe()
    at = vault_start(plugin)
    probe(plugin, "store_u64", at - 8)
    assert probe(plugin, "load_u64", at - 8) == b"\x5a" * 8  # allowed: still the heap's page
    assert probe(plugin, "load_u64", at - 7) == bytes(8)      # one byte into the vault: refused
    assert probe(plugin, "load_u8", at - 1) == b"\x5a" + bytes(7)


@pytest.mark.parametrize("name", ["store_u8", "store_u64", "free"])
def test_a_vault_address_is_not_written(name: str) -> None:
    plugin = loaded_probe()
    before = vault_image(plugin)
    for address in vault_addresses(plugin):
        assert probe(plugin, name, address) == b""
        assert vault_image(plugin) == before, (name, address - vault_start(plugin))
    assert probe(plugin, "config_get", 0) == bytes(8)
    assert plugin.vars == {"v": b"var value"}


def test_an_output_length_scribbled_into_the_vault_is_refused() -> None:
    plugin = loaded_probe()
    at = vault_start(plugin)
    out = probe(plugin, "output_scribble", at)  # up to the vault's start: all the heap's
    assert 65_000 < len(out) < at and b"S3CR3T" not in out
    for address in (at + 1, at + 90, OUT_OF_BOUNDS):
        with pytest.raises(CallError, match="output is out of bounds"):
            probe(plugin, "output_scribble", address)
    prepared = plugin.prepare("output_scribble")  # the prepared call's own read of the output
    with pytest.raises(CallError, match="output is out of bounds"):
        prepared(struct.pack("<Q", at + 90))


def test_a_host_function_cannot_read_the_vault_at_a_plugins_address() -> None:
    plugin = loaded_probe()
    at = vault_start(plugin)
    assert probe(plugin, "peek", at - 8) == bytes(8)  # the heap's last bytes
    for address in [OUT_OF_BOUNDS, at - 7, *vault_addresses(plugin)]:
        with pytest.raises(CallError, match="out of bounds"):
            probe(plugin, "peek", address)


def test_output_set_on_the_vault_returns_no_vault_bytes() -> None:
    plugin = loaded_probe()
    assert probe(plugin, "output_set", OUT_OF_BOUNDS) == b""
    for address in vault_addresses(plugin):
        assert probe(plugin, "output_set", address) == b"", address - vault_start(plugin)


@pytest.mark.parametrize("name, what", [("config_get", "config key"), ("var_get", "var key"),
                                        ("var_set", "var key")])
def test_a_vault_address_is_not_a_handle(name: str, what: str) -> None:
    plugin = loaded_probe()
    before = vault_image(plugin)
    for address in [OUT_OF_BOUNDS, *vault_addresses(plugin)]:
        with pytest.raises(CallError, match=f"^invalid handle offset for {what}: {address}$"):
            probe(plugin, name, address)
    assert vault_image(plugin) == before
    assert plugin.vars == {"v": b"var value"}


# ------------------------------------------------------------------ growth, reset

# "run": a program in the input, 17-byte records: op (u8), a (u64), b (u64).
#   0 store_u8(a, b)   1 store_u64(a, b)   2 alloc(a)   3 free(a)   4 reset()
#   5 input_set(a, b)  6 output_set(a, b)  7 error_set(a)
# Then the output: the values of config "secret" and var "v", each after a u64 length.
OPS_WAT = """
(module
  (import "extism:host/env" "input_length" (func $input_length (result i64)))
  (import "extism:host/env" "input_load_u8" (func $input_load_u8 (param i64) (result i32)))
  (import "extism:host/env" "input_load_u64" (func $input_load_u64 (param i64) (result i64)))
  (import "extism:host/env" "alloc" (func $alloc (param i64) (result i64)))
  (import "extism:host/env" "free" (func $free (param i64)))
  (import "extism:host/env" "reset" (func $reset))
  (import "extism:host/env" "length" (func $length (param i64) (result i64)))
  (import "extism:host/env" "load_u8" (func $load_u8 (param i64) (result i32)))
  (import "extism:host/env" "store_u8" (func $store_u8 (param i64 i32)))
  (import "extism:host/env" "store_u64" (func $store_u64 (param i64 i64)))
  (import "extism:host/env" "input_set" (func $input_set (param i64 i64)))
  (import "extism:host/env" "output_set" (func $output_set (param i64 i64)))
  (import "extism:host/env" "error_set" (func $error_set (param i64)))
  (import "extism:host/env" "config_get" (func $config_get (param i64) (result i64)))
  (import "extism:host/env" "var_get" (func $var_get (param i64) (result i64)))
  (import "extism:host/env" "var_set" (func $var_set (param i64 i64)))
  (global $program (mut i64) (i64.const 0))
  (global $program_length (mut i64) (i64.const 0))
  ;; the program is copied out of the input first: a reset frees the input
  (func $copy_program
    (local $i i64) (local $n i64) (local $p i64)
    (local.set $n (call $input_length))
    (global.set $program_length (local.get $n))
    (if (i64.eqz (local.get $n)) (then (return)))
    (local.set $p (call $alloc (local.get $n)))
    (global.set $program (local.get $p))
    (loop $copy
      (call $store_u8 (i64.add (local.get $p) (local.get $i))
                      (call $input_load_u8 (local.get $i)))
      (local.set $i (i64.add (local.get $i) (i64.const 1)))
      (br_if $copy (i64.lt_u (local.get $i) (local.get $n)))))
  (func $u64 (param $at i64) (result i64)
    (local $v i64) (local $i i64)
    (loop $bytes
      (local.set $v (i64.or (local.get $v)
        (i64.shl (i64.extend_i32_u (call $load_u8 (i64.add (local.get $at) (local.get $i))))
                 (i64.shl (local.get $i) (i64.const 3)))))
      (local.set $i (i64.add (local.get $i) (i64.const 1)))
      (br_if $bytes (i64.lt_u (local.get $i) (i64.const 8))))
    (local.get $v))
  (func $key (param $text i64) (param $n i64) (result i64)
    (local $p i64)
    (local.set $p (call $alloc (local.get $n)))
    (call $store_u64 (local.get $p) (local.get $text))
    (local.get $p))
  (func $append (param $out i64) (param $value i64) (result i64)
    ;; out: [u64 length][bytes] of the value, at a new block; returns its length + 8
    (local $n i64) (local $i i64)
    (local.set $n (call $length (local.get $value)))
    (call $store_u64 (local.get $out) (local.get $n))
    (if (i64.ne (local.get $n) (i64.const 0))
      (then
        (loop $copy
          (call $store_u8 (i64.add (i64.add (local.get $out) (i64.const 8)) (local.get $i))
                          (call $load_u8 (i64.add (local.get $value) (local.get $i))))
          (local.set $i (i64.add (local.get $i) (i64.const 1)))
          (br_if $copy (i64.lt_u (local.get $i) (local.get $n))))))
    (i64.add (local.get $n) (i64.const 8)))
  (func (export "run") (result i32)
    (local $pc i64) (local $op i32) (local $a i64) (local $b i64)
    (local $secret i64) (local $v i64) (local $out i64) (local $n i64)
    (call $copy_program)
    (block $done
      (loop $step
        (br_if $done (i64.gt_u (i64.add (local.get $pc) (i64.const 17)) (global.get $program_length)))
        (local.set $op (call $load_u8 (i64.add (global.get $program) (local.get $pc))))
        (local.set $a (call $u64 (i64.add (global.get $program) (i64.add (local.get $pc) (i64.const 1)))))
        (local.set $b (call $u64 (i64.add (global.get $program) (i64.add (local.get $pc) (i64.const 9)))))
        (local.set $pc (i64.add (local.get $pc) (i64.const 17)))
        (if (i32.eq (local.get $op) (i32.const 0))
          (then (call $store_u8 (local.get $a) (i32.wrap_i64 (local.get $b)))))
        (if (i32.eq (local.get $op) (i32.const 1)) (then (call $store_u64 (local.get $a) (local.get $b))))
        (if (i32.eq (local.get $op) (i32.const 2)) (then (drop (call $alloc (local.get $a)))))
        (if (i32.eq (local.get $op) (i32.const 3)) (then (call $free (local.get $a))))
        (if (i32.eq (local.get $op) (i32.const 4))
          (then (call $reset) (br $done)))  ;; (the reset zeroed the program: it ends here)
        (if (i32.eq (local.get $op) (i32.const 5)) (then (call $input_set (local.get $a) (local.get $b))))
        (if (i32.eq (local.get $op) (i32.const 6)) (then (call $output_set (local.get $a) (local.get $b))))
        (if (i32.eq (local.get $op) (i32.const 7)) (then (call $error_set (local.get $a))))
        (br $step)))
    (call $error_set (i64.const 0))
    ;; "secret" (6 bytes) and "v" (1 byte) as keys, read back through the vault
    (local.set $secret (call $config_get (call $key (i64.const 0x746572636573) (i64.const 6))))
    (local.set $v (call $var_get (call $key (i64.const 0x76) (i64.const 1))))
    (local.set $out (call $alloc (i64.add (i64.const 16)
      (i64.add (call $length (local.get $secret)) (call $length (local.get $v))))))
    (local.set $n (call $append (local.get $out) (local.get $secret)))
    (local.set $n (i64.add (local.get $n)
      (call $append (i64.add (local.get $out) (local.get $n)) (local.get $v))))
    (call $output_set (local.get $out) (local.get $n))
    (i32.const 0))
  (func (export "grow") (result i32)
    (drop (call $alloc (call $input_load_u64 (i64.const 0))))
    (i32.const 0))
  (func (export "grow_then_set") (result i32)
    ;; var_set("v", <input>) after the heap grew by 3 pages, then grow once more
    (local $p i64) (local $i i64) (local $n i64)
    (drop (call $alloc (i64.const 200000)))
    (local.set $n (call $input_length))
    (local.set $p (call $alloc (local.get $n)))
    (loop $copy
      (call $store_u8 (i64.add (local.get $p) (local.get $i)) (call $input_load_u8 (local.get $i)))
      (local.set $i (i64.add (local.get $i) (i64.const 1)))
      (br_if $copy (i64.lt_u (local.get $i) (local.get $n))))
    (call $var_set (call $key (i64.const 0x76) (i64.const 1)) (local.get $p))
    (drop (call $alloc (i64.const 70000)))
    (i32.const 0))
)
"""


def program(*ops: tuple[int, int, int]) -> bytes:
    return b"".join(struct.pack("<BQQ", op, a & (2**64 - 1), b & (2**64 - 1)) for op, a, b in ops)


def expected_output(var: bytes = b"var value") -> bytes:
    secret = CONFIG["secret"].encode()
    return struct.pack("<Q", len(secret)) + secret + struct.pack("<Q", len(var)) + var


def ops_plugin(**manifest: Any) -> Plugin:
    plugin = Plugin({"wasm": [{"data": OPS_WAT.encode()}], **manifest}, config=CONFIG)
    plugin.vars["v"] = b"var value"
    return plugin


def test_the_vault_moves_up_when_the_heap_grows_and_keeps_its_contents() -> None:
    plugin = ops_plugin()
    assert plugin.call("run", b"") == expected_output()
    before = vault_image(plugin)
    # grow the heap by 3 pages, then read the config and the var in the same call
    assert plugin.call("run", program((2, 200_000, 0))) == expected_output()
    assert vault_start(plugin) == 4 * PAGE
    assert vault_image(plugin) == before  # moved whole
    # where it was now lies inside the 200 000-byte block, which reads as zeros
    written = len(before.rstrip(b"\0"))
    assert written > 400 and kernel_of(plugin).view[PAGE:PAGE + written].tobytes() == bytes(written)
    assert plugin.call("run", b"") == expected_output()
    assert plugin.vars == {"v": b"var value"}


def test_a_var_set_after_growth_and_a_vault_larger_than_the_growth_survive() -> None:
    """The vault (here ~4 pages of vars) moves by less than its size: the copy overlaps."""
    plugin = ops_plugin(memory={"max_var_bytes": 1_000_000})
    big = bytes(range(256)) * 800  # 204 800 bytes
    plugin.call("grow_then_set", big)
    assert plugin.vars == {"v": big}
    assert vault_start(plugin) > PAGE
    plugin.call("run", program((2, 70_000, 0), (2, 300_000, 0)))
    assert plugin.vars == {"v": big}
    assert plugin.call("run", b"") == expected_output(big)


def test_the_vault_survives_reset() -> None:
    plugin = ops_plugin()
    assert plugin.call("run", program((2, 100, 0), (2, 200_000, 0), (4, 0, 0))) == expected_output()
    assert plugin.vars == {"v": b"var value"}
    assert plugin.call("run", b"") == expected_output()


_VAULT_REL = st.one_of(st.sampled_from([0, 1, 16, 20, 63, 64, 72, 78, 90, 1000]),
                       st.integers(0, PAGE - 1))
_ADDRESS = st.one_of(
    st.tuples(st.just("vault"), _VAULT_REL),               # the vault when the call starts
    st.tuples(st.just("below"), st.integers(1, 80)),       # just below the vault
    st.tuples(st.just("heap"), st.integers(0, 200_000)),   # from the heap's start
    st.tuples(st.just("abs"), st.sampled_from([0, 1, 9, 17, 57, 64, 1 << 32, 2**64 - 1])),
)
_OP = st.one_of(
    st.tuples(st.sampled_from([0, 1]), _ADDRESS, st.integers(0, 2**64 - 1)),
    st.tuples(st.just(2), st.just(("abs", 0)), st.sampled_from([1, 12, 100, 4000, 65_000, 70_000,
                                                                140_000, 300_000])),
    st.tuples(st.sampled_from([3, 5, 6, 7]), _ADDRESS, st.sampled_from([0, 1, 8, 64, 100_000])),
    st.tuples(st.just(4), st.just(("abs", 0)), st.just(0)),
)


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(calls=st.lists(st.lists(_OP, max_size=12), min_size=1, max_size=4))
def test_no_sequence_of_plugin_calls_changes_the_vault(calls: list[list[Any]]) -> None:
    plugin = ops_plugin(memory={"max_pages": 40})
    plugin.call("run", b"")
    before = vault_image(plugin)
    for ops in calls:
        at = vault_start(plugin)
        resolved = []
        for op, (kind, offset), value in ops:
            address = {"vault": at + offset, "below": at - offset, "heap": 65 + offset,
                       "abs": offset}[kind]
            resolved.append((op, value, 0) if op == 2 else (op, address, value))
        # (oom past memory.max_pages, handles the program broke: a program may wreck
        # its own heap, and its output is its business)
        with contextlib.suppress(CallError):
            plugin.call("run", program(*resolved))
        assert vault_image(plugin) == before
        assert plugin.vars == {"v": b"var value"}
        assert plugin.call("run", b"") == expected_output()  # the plug-in's view, in Wasm


# ------------------------------------------------------------------ the page budget

def test_the_vault_does_not_draw_from_memory_max_pages() -> None:
    """memory.max_pages bounds the heap's growth as before, however large the vault: its
    pages (the config, the vars) count against memory.max_var_bytes, not the budget."""
    compiled = CompiledPlugin({"wasm": [{"data": OPS_WAT.encode()}],
                               "memory": {"max_pages": 4, "max_var_bytes": 1_000_000}})
    for var in (b"small", bytes(range(100)) * 3000):  # a vault of 1 page, then of 5
        plugin = Plugin(compiled, config=CONFIG)
        plugin.vars["v"] = var
        plugin.call("grow", struct.pack("<Q", 300_000))  # the heap grows by 4 pages: allowed
        assert vault_start(plugin) == 5 * PAGE and len(vault_image(plugin)) >= len(var)
        with pytest.raises(CallError, match=r"^oom") as info:  # 340 000 bytes: a 5th page
            plugin.call("grow", struct.pack("<Q", 340_000))
        assert info.value.limit == "memory.max_pages"
        assert plugin.vars == {"v": var}
        assert plugin.config["secret"] == CONFIG["secret"]
