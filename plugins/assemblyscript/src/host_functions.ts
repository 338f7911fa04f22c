// host_functions: calls user host functions imported from `extism:host/user`.
//
// Every import is a plain wasm function; strings cross as offsets of Extism
// kernel memory blocks (i64), numbers as wasm values:
//   hello_world(i64) -> i64   string block in, string block out
//   add_i64(i64, i64) -> i64
//   scale_f64(f64) -> f64
//   flag_i32(i32) -> i32
//   host_json(i64) -> i64     JSON text block in, JSON text block out
//   no_args() -> ()
import { Host, Memory } from "@extism/as-pdk";
import { length, output_set } from "@extism/as-pdk/lib/env";
import { outputUtf8, parseI64, setError } from "./common/helpers";

@external("extism:host/user", "hello_world")
declare function hello_world(msg: u64): u64;

@external("extism:host/user", "add_i64")
declare function add_i64(a: i64, b: i64): i64;

@external("extism:host/user", "scale_f64")
declare function scale_f64(x: f64): f64;

@external("extism:host/user", "flag_i32")
declare function flag_i32(x: i32): i32;

@external("extism:host/user", "host_json")
declare function host_json(doc: u64): u64;

@external("extism:host/user", "no_args")
declare function no_args(): void;

// Outputs the kernel block at `offset` as-is (offset 0 = empty output).
function outputBlock(offset: u64): void {
  if (offset == 0) return;
  output_set(offset, length(offset));
}

// Passes the input (copied into a new block) to hello_world and outputs the
// block it returns.
export function say_hello(): i32 {
  const arg = Memory.allocateBytes(Host.input());
  outputBlock(hello_world(arg.offset));
  return 0;
}

// input "a,b" (decimal i64s, split at the first ','); output add_i64(a, b).
export function add(): i32 {
  const s = Host.inputString();
  const comma = s.indexOf(",");
  if (comma < 0) {
    setError("add: expected input a,b");
    return 1;
  }
  const a = new StaticArray<i64>(1);
  const b = new StaticArray<i64>(1);
  if (!parseI64(s.substring(0, comma), a) || !parseI64(s.substring(comma + 1), b)) {
    setError("add: input is not two decimal i64s: '" + s + "'");
    return 1;
  }
  outputUtf8(add_i64(unchecked(a[0]), unchecked(b[0])).toString());
  return 0;
}

// input = decimal float; output = scale_f64(x) formatted by f64.toString().
export function scale(): i32 {
  const s = Host.inputString().trim();
  const x = parseFloat(s);
  if (isNaN(x) && s != "NaN") {
    setError("scale: input is not a number: '" + s + "'");
    return 1;
  }
  outputUtf8(scale_f64(x).toString());
  return 0;
}

// input = decimal i32; output = flag_i32(x) as decimal.
export function flag(): i32 {
  const s = Host.inputString();
  const v = new StaticArray<i64>(1);
  if (!parseI64(s, v) || unchecked(v[0]) < i32.MIN_VALUE || unchecked(v[0]) > i32.MAX_VALUE) {
    setError("flag: input is not a decimal i32: '" + s + "'");
    return 1;
  }
  outputUtf8(flag_i32(<i32>unchecked(v[0])).toString());
  return 0;
}

// Passes the input (JSON text) to host_json and outputs what it returns.
export function json_roundtrip(): i32 {
  const arg = Memory.allocateBytes(Host.input());
  outputBlock(host_json(arg.offset));
  return 0;
}

// Calls no_args() and outputs "done".
export function call_no_args(): i32 {
  no_args();
  outputUtf8("done");
  return 0;
}
