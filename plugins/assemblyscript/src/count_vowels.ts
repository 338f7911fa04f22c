// count_vowels: counts the input characters that are in the vowel set.
//
// Config `vowels` (absent or empty => "aeiouAEIOU") gives the set. Var `total`
// (u64 little-endian, absent => 0) accumulates the counts across calls.
// Output: {"count":N,"total":T,"vowels":"<vowels>"}
import { Config, Host, Var } from "@extism/as-pdk";
import { outputUtf8, readU64Var, u64Bytes } from "./common/helpers";

const DEFAULT_VOWELS = "aeiouAEIOU";

// JSON string escaping (quotes, backslash, control characters).
function jsonEscape(s: string): string {
  let needs = false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c == 0x22 || c == 0x5c) {
      needs = true;
      break;
    }
  }
  if (!needs) return s;
  const parts = new Array<string>();
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c == 0x22) parts.push('\\"');
    else if (c == 0x5c) parts.push("\\\\");
    else if (c == 0x0a) parts.push("\\n");
    else if (c == 0x0d) parts.push("\\r");
    else if (c == 0x09) parts.push("\\t");
    else if (c < 0x20) parts.push("\\u00" + (c < 0x10 ? "0" : "") + c.toString(16));
    else parts.push(String.fromCharCode(c));
  }
  return parts.join("");
}

// Counts bytes < 0x80 present in `table` (one byte per ASCII character).
// UTF-8 lead/continuation bytes are >= 0x80 and never match.
function countAscii(input: Uint8Array, table: StaticArray<u8>): u64 {
  const ptr = input.dataStart;
  const n = <usize>input.length;
  const t = changetype<usize>(table);
  let count: u64 = 0;
  for (let i: usize = 0; i < n; i++) {
    count += <u64>load<u8>(t + <usize>load<u8>(ptr + i));
  }
  return count;
}

// Slow path, only used when the vowel set contains non-ASCII characters:
// decodes UTF-8 code points in place (no allocation) and checks each one.
function countUtf8(input: Uint8Array, table: StaticArray<u8>, wide: Array<u32>): u64 {
  const ptr = input.dataStart;
  const n = <usize>input.length;
  let count: u64 = 0;
  let i: usize = 0;
  while (i < n) {
    const b0 = <u32>load<u8>(ptr + i);
    if (b0 < 0x80) {
      count += <u64>unchecked(table[b0]);
      i++;
      continue;
    }
    let cp: u32 = 0;
    let len: usize = 0;
    if ((b0 & 0xe0) == 0xc0) {
      cp = b0 & 0x1f;
      len = 2;
    } else if ((b0 & 0xf0) == 0xe0) {
      cp = b0 & 0x0f;
      len = 3;
    } else if ((b0 & 0xf8) == 0xf0) {
      cp = b0 & 0x07;
      len = 4;
    }
    if (len == 0 || i + len > n) {
      i++; // invalid or truncated sequence: skip the byte
      continue;
    }
    let ok = true;
    for (let k: usize = 1; k < len; k++) {
      const b = <u32>load<u8>(ptr + i + k);
      if ((b & 0xc0) != 0x80) {
        ok = false;
        break;
      }
      cp = (cp << 6) | (b & 0x3f);
    }
    if (!ok) {
      i++;
      continue;
    }
    if (wide.includes(cp)) count++;
    i += len;
  }
  return count;
}

export function count_vowels(): i32 {
  let vowels = Config.get("vowels");
  if (vowels === null || vowels.length == 0) vowels = DEFAULT_VOWELS;

  // ASCII lookup table plus a list of any non-ASCII code points.
  const table = new StaticArray<u8>(256);
  const wide = new Array<u32>();
  for (let i = 0; i < vowels.length; ) {
    const cp = <u32>vowels.codePointAt(i);
    if (cp < 0x80) unchecked((table[cp] = 1));
    else if (!wide.includes(cp)) wide.push(cp);
    i += cp > 0xffff ? 2 : 1;
  }

  const input = Host.input();
  const count = wide.length == 0 ? countAscii(input, table) : countUtf8(input, table, wide);

  const prev = new StaticArray<u64>(1);
  if (!readU64Var(Var.get("total"), "total", prev)) return 1;
  const total = unchecked(prev[0]) + count;
  Var.set("total", u64Bytes(total));

  outputUtf8(
    '{"count":' + count.toString() +
    ',"total":' + total.toString() +
    ',"vowels":"' + jsonEscape(vowels) + '"}',
  );
  return 0;
}
