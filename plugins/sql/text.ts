// text: the SQL example plug-in for text, in AssemblyScript with @extism/as-pdk.
//
//   count_vowels()        scalar: input = a TEXT value's UTF-8 bytes,
//                         output = the number of ASCII vowels (aeiouAEIOU) as decimal text
//                         (register it with returns INTEGER).
//   count_vowels_batch()  the same for a whole DuckDB vector, in wasmplug.sql's batch
//                         format (docs/sql.md, "Batches"): one utf8 column in,
//                         one int64 column out, NULL in -> NULL out.
import { Host } from "@extism/as-pdk";
// Provides pluginAbort and setError (build.sh: --use abort=...common/helpers/pluginAbort).
import { setError } from "../assemblyscript/src/common/helpers";

const TYPE_INT64: u32 = 1;
const TYPE_UTF8: u32 = 3;

const VOWELS = new StaticArray<u8>(256);
function initVowels(): void {
  const v = "aeiouAEIOU";
  for (let i = 0; i < v.length; i++) unchecked((VOWELS[v.charCodeAt(i)] = 1));
}
initVowels();

@inline
function countRange(start: usize, end: usize): u64 {
  const t = changetype<usize>(VOWELS);
  let count: u64 = 0;
  for (let i = start; i < end; i++) count += <u64>load<u8>(t + <usize>load<u8>(i));
  return count;
}

export function count_vowels(): i32 {
  const input = Host.input();
  const start = input.dataStart;
  const count = countRange(start, start + <usize>input.length);
  Host.output(Uint8Array.wrap(String.UTF8.encode(count.toString())));
  return 0;
}

function fail(message: string): i32 {
  setError("count_vowels_batch: " + message);
  return 1;
}

export function count_vowels_batch(): i32 {
  const input = Host.input();
  const base = input.dataStart;
  const end = base + <usize>input.length;
  if (input.length < 16) return fail("the batch is shorter than its header");
  const n = load<u32>(base);
  const columns = load<u32>(base + 4);
  if (columns != 1) return fail("expects one column, got " + columns.toString());
  let p = base + 8;
  const type = load<u32>(p);
  const validityLen = <usize>load<u32>(p + 4);
  p += 8;
  if (type != TYPE_UTF8) return fail("expects a text column (type 3), got type " + type.toString());
  const bitmapBytes = (<usize>n + 7) >> 3;
  if (validityLen != 0 && validityLen != bitmapBytes) return fail("bad validity length");
  const validity = p;
  p += validityLen;
  const offsets = p;
  p += (<usize>n + 1) * 4;
  if (p + 4 > end) return fail("the batch is truncated");
  const dataLen = <usize>load<u32>(p);
  p += 4;
  const data = p;
  if (data + dataLen != end) return fail("the data length does not match the batch size");

  const outSize: usize = 12 + validityLen + <usize>n * 8;
  const out = new Uint8Array(<i32>outSize);
  const o = out.dataStart;
  store<u32>(o, n);
  store<u32>(o + 4, TYPE_INT64);
  store<u32>(o + 8, <u32>validityLen);
  if (validityLen != 0) memory.copy(o + 12, validity, validityLen);
  const values = o + 12 + validityLen;
  for (let i: usize = 0; i < <usize>n; i++) {
    if (validityLen != 0 && ((load<u8>(validity + (i >> 3)) >> <u8>(i & 7)) & 1) == 0) continue;
    const from = <usize>load<u32>(offsets + i * 4);
    const to = <usize>load<u32>(offsets + i * 4 + 4);
    if (from > to || to > dataLen) return fail("offsets out of range at row " + i.toString());
    store<u64>(values + i * 8, countRange(data + from, data + to));
  }
  Host.output(out);
  return 0;
}
