// Shared helpers for the wasmplug AssemblyScript test plug-ins.
// This folder is not a plug-in: build.sh only compiles src/*.ts.

import { Host, Memory } from "@extism/as-pdk";
import { error_set } from "@extism/as-pdk/lib/env";

// Sets the Extism plug-in error to `message` (UTF-8).
// @extism/as-pdk 1.0.0 has no Host.setError wrapper, so this goes through the
// package's own binding of `extism:host/env` `error_set`.
export function setError(message: string): void {
  error_set(Memory.allocateString(message).offset);
}

// Sets the plug-in error to raw bytes.
export function setErrorBytes(message: Uint8Array): void {
  error_set(Memory.allocateBytes(message).offset);
}

// Outputs a string as UTF-8. as-pdk 1.0.0's Host.outputString passes the
// UTF-16 length to output_set, which truncates non-ASCII text, so the plug-ins
// encode first and use Host.output (byte length) instead.
export function outputUtf8(s: string): void {
  const bytes = Uint8Array.wrap(String.UTF8.encode(s));
  if (bytes.length > 0) Host.output(bytes);
}

// Decodes `len` bytes of `bytes` starting at `start` as UTF-8.
export function utf8Slice(bytes: Uint8Array, start: i32, len: i32): string {
  return String.UTF8.decodeUnsafe(bytes.dataStart + <usize>start, <usize>len);
}

// Reads an 8-byte little-endian u64 variable. Absent (or empty) = 0.
// Returns false (after setting the plug-in error) if it has another length.
export function readU64Var(value: Uint8Array | null, name: string, out: StaticArray<u64>): bool {
  if (value === null) {
    unchecked((out[0] = 0));
    return true;
  }
  if (value.length != 8) {
    setError("var " + name + " must be 8 bytes (u64 little-endian), got " + value.length.toString());
    return false;
  }
  unchecked((out[0] = load<u64>(value.dataStart)));
  return true;
}

// Encodes a u64 as 8 little-endian bytes.
export function u64Bytes(v: u64): Uint8Array {
  const buf = new Uint8Array(8);
  store<u64>(buf.dataStart, v);
  return buf;
}

// Parses a decimal i64 (optional surrounding whitespace, optional sign) into
// out[0]. Returns false for anything else, including overflow.
export function parseI64(text: string, out: StaticArray<i64>): bool {
  const s = text.trim();
  let i = 0;
  let neg = false;
  if (s.length > 0 && (s.charCodeAt(0) == 0x2d || s.charCodeAt(0) == 0x2b)) {
    neg = s.charCodeAt(0) == 0x2d;
    i = 1;
  }
  if (i >= s.length) return false;
  // Magnitude limit: 2^63 for negative numbers, 2^63 - 1 otherwise.
  const limit: u64 = neg ? 0x8000000000000000 : 0x7fffffffffffffff;
  let v: u64 = 0;
  for (; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return false;
    const d = <u64>(c - 0x30);
    if (v > (limit - d) / 10) return false;
    v = v * 10 + d;
  }
  unchecked((out[0] = neg ? <i64>(0 - v) : <i64>v));
  return true;
}

// Abort handler, wired in by build.sh with
//   --use abort=src/common/helpers/pluginAbort
// so that no module imports `env.abort`. It records the message as the
// Extism error ("abort: <message>[ at <file>:<line>:<col>]") and then traps.
export function pluginAbort(
  message: string | null = null,
  fileName: string | null = null,
  lineNumber: u32 = 0,
  columnNumber: u32 = 0,
): void {
  let text = "abort: " + (message === null ? "(no message)" : message);
  if (fileName !== null) {
    text += " at " + fileName + ":" + lineNumber.toString() + ":" + columnNumber.toString();
  }
  setError(text);
  unreachable();
}
