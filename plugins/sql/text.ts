// text: the SQL example plug-in for text, in AssemblyScript with @extism/as-pdk.
//
//   count_vowels()        scalar: input = a TEXT value's UTF-8 bytes,
//                         output = the number of ASCII vowels (aeiouAEIOU) as decimal text
//                         (register it with returns INTEGER).
//   count_vowels_batch()  the same for a whole DuckDB vector, in wasmplug.sql's batch
//                         format (docs/sql.md, "Batches"): one utf8 column in,
//                         one int64 column out, NULL in -> NULL out. Counts with Wasm
//                         SIMD (build.sh enables it for this file).
import {
  alloc, input_length, input_load_u64, input_load_u8, output_set, store_u64, store_u8,
} from "@extism/as-pdk/lib/env";
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

// One call per row: the input is read 8 bytes at a time straight from the host
// (no copy into this module's memory, no allocation), and the answer's digits are
// written from a small static buffer.
const DIGITS = new StaticArray<u8>(24);

export function count_vowels(): i32 {
  const n = input_length();
  const t = changetype<usize>(VOWELS);
  let count: u64 = 0;
  let i: u64 = 0;
  for (; i + 8 <= n; i += 8) {
    let word = input_load_u64(i);
    for (let k = 0; k < 8; k++) {
      count += <u64>load<u8>(t + <usize>(word & 0xff));
      word >>= 8;
    }
  }
  for (; i < n; i++) count += <u64>load<u8>(t + <usize>input_load_u8(i));
  let p = 24;
  do {
    p--;
    unchecked((DIGITS[p] = <u8>(48 + count % 10)));
    count /= 10;
  } while (count > 0);
  const length = <u64>(24 - p);
  const out = alloc(length);
  for (let j = 0; j < 24 - p; j++) store_u8(out + <u64>j, unchecked(DIGITS[p + j]));
  output_set(out, length);
  return 0;
}

function fail(message: string): i32 {
  setError("count_vowels_batch: " + message);
  return 1;
}

// The batch's bytes, copied into this module's memory 8 at a time (a raw block,
// no typed array: Host.input() costs about twice as much per byte).
function readInput(n: u64): usize {
  const buffer = heap.alloc(<usize>n);
  let i: u64 = 0;
  for (; i + 8 <= n; i += 8) store<u64>(buffer + <usize>i, input_load_u64(i));
  for (; i < n; i++) store<u8>(buffer + <usize>i, input_load_u8(i));
  return buffer;
}

// `n` bytes at `data` into the kernel block at `out`, 8 at a time.
function writeOut(out: u64, data: usize, n: usize): void {
  let i: usize = 0;
  for (; i + 8 <= n; i += 8) store_u64(out + <u64>i, load<u64>(data + i));
  for (; i < n; i++) store_u8(out + <u64>i, load<u8>(data + i));
}

export function count_vowels_batch(): i32 {
  const size = input_length();
  if (size < 16) return fail("the batch is shorter than its header");
  if (size > 0x7fffffff) return fail("the batch is too large");
  const base = readInput(size);
  const end = base + <usize>size;
  const rc = countBatch(base, end);
  heap.free(base);
  return rc;
}

// The whole vector's text at once: one bit per byte of data, set for a vowel,
// 16 bytes per step with SIMD (a byte with 0x20 set is a vowel when it is one of
// "aeiou": that maps "AEIOU" onto them and nothing else). A row's count is then
// the population count of its bits: a few 64-bit words instead of a loop over its bytes.
function vowelBits(data: usize, length: usize): usize {
  const words = (length >> 6) + 2;  // (+ one spare word: countBits may load one past the last)
  const bits = heap.alloc(words * 8);
  memory.fill(bits, 0, words * 8);
  const lower = i8x16.splat(0x20);
  const a = i8x16.splat(0x61), e = i8x16.splat(0x65), i_ = i8x16.splat(0x69);
  const o = i8x16.splat(0x6f), u = i8x16.splat(0x75);
  let j: usize = 0;
  for (; j + 16 <= length; j += 16) {
    const v = v128.or(v128.load(data + j), lower);
    const m = v128.or(v128.or(v128.or(i8x16.eq(v, a), i8x16.eq(v, e)),
                              v128.or(i8x16.eq(v, i_), i8x16.eq(v, o))), i8x16.eq(v, u));
    store<u16>(bits + (j >> 3), <u16>i8x16.bitmask(m));
  }
  const t = changetype<usize>(VOWELS);
  for (; j < length; j++) {
    if (load<u8>(t + <usize>load<u8>(data + j))) {
      store<u8>(bits + (j >> 3), load<u8>(bits + (j >> 3)) | <u8>(1 << <u8>(j & 7)));
    }
  }
  return bits;
}

// Set bits in [from, to) of the bitmap.
@inline
function countBits(bits: usize, from: usize, to: usize): u64 {
  if (from == to) return 0;
  let w = from >> 6;
  const last = (to - 1) >> 6;
  let word = load<u64>(bits + w * 8) & (~<u64>0 << <u64>(from & 63));
  let count: u64 = 0;
  while (w < last) {
    count += popcnt<u64>(word);
    w++;
    word = load<u64>(bits + w * 8);
  }
  const end = to & 63;
  if (end != 0) word &= (<u64>1 << <u64>end) - 1;
  return count + popcnt<u64>(word);
}

function countBatch(base: usize, end: usize): i32 {
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
  if (<u64>n + 1 > <u64>(end - p) / 4) return fail("the batch is truncated");
  p += (<usize>n + 1) * 4;
  if (p + 4 > end) return fail("the batch is truncated");
  const dataLen = <usize>load<u32>(p);
  p += 4;
  const data = p;
  if (data + dataLen != end) return fail("the data length does not match the batch size");

  // The answer goes straight into its kernel block: the header and the bitmap
  // first, then each row's count as it is found (no copy of the values in between).
  const headSize: usize = 12 + validityLen;
  const outSize: usize = headSize + <usize>n * 8;
  const out = alloc(<u64>outSize);
  if (out == 0) return fail("no memory for the answer");
  const head = heap.alloc(headSize);
  store<u32>(head, n);
  store<u32>(head + 4, TYPE_INT64);
  store<u32>(head + 8, <u32>validityLen);
  if (validityLen != 0) memory.copy(head + 12, validity, validityLen);
  writeOut(out, head, headSize);
  heap.free(head);
  const values = out + <u64>headSize;
  const bits = vowelBits(data, dataLen);
  for (let i: usize = 0; i < <usize>n; i++) {
    let count: u64 = 0; // NULL rows: 0 under the bitmap
    if (validityLen == 0 || ((load<u8>(validity + (i >> 3)) >> <u8>(i & 7)) & 1) != 0) {
      const from = <usize>load<u32>(offsets + i * 4);
      const to = <usize>load<u32>(offsets + i * 4 + 4);
      if (from > to || to > dataLen) {
        heap.free(bits);
        return fail("offsets out of range at row " + i.toString());
      }
      count = countBits(bits, from, to);
    }
    store_u64(values + <u64>(i * 8), count);
  }
  heap.free(bits);
  output_set(out, <u64>outSize);
  return 0;
}
