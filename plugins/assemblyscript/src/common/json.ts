// A minimal JSON scanner over UTF-8 bytes, and JSON string escaping, shared
// by the plug-ins that speak JSON (http.ts, chatgpt.ts). Not a plug-in:
// build.sh only compiles src/*.ts.

export class Scanner {
  pos: i32 = 0;
  error: string | null = null;
  constructor(public buf: Uint8Array) {}

  at(i: i32): u8 {
    return load<u8>(this.buf.dataStart + <usize>i);
  }

  fail(msg: string): bool {
    if (this.error === null) this.error = msg + " at byte " + this.pos.toString();
    return false;
  }

  skipWs(): void {
    while (this.pos < this.buf.length) {
      const c = this.at(this.pos);
      if (c != 0x20 && c != 0x09 && c != 0x0a && c != 0x0d) break;
      this.pos++;
    }
  }

  peek(): i32 {
    this.skipWs();
    return this.pos < this.buf.length ? <i32>this.at(this.pos) : -1;
  }

  expect(c: u8): bool {
    if (this.peek() != <i32>c) return this.fail("expected '" + String.fromCharCode(c) + "'");
    this.pos++;
    return true;
  }

  hex4(): i32 {
    if (this.pos + 4 > this.buf.length) return -1;
    let v = 0;
    for (let k = 0; k < 4; k++) {
      const c = <i32>this.at(this.pos + k);
      let d = -1;
      if (c >= 0x30 && c <= 0x39) d = c - 0x30;
      else if (c >= 0x61 && c <= 0x66) d = c - 0x61 + 10;
      else if (c >= 0x41 && c <= 0x46) d = c - 0x41 + 10;
      if (d < 0) return -1;
      v = (v << 4) | d;
    }
    this.pos += 4;
    return v;
  }

  // Parses a JSON string at pos; appends its UTF-8 bytes to `out` (if given).
  string(out: Array<u8> | null): bool {
    if (!this.expect(0x22)) return false;
    while (true) {
      if (this.pos >= this.buf.length) return this.fail("unterminated string");
      const c = this.at(this.pos++);
      if (c == 0x22) return true;
      if (c < 0x20) return this.fail("control character in string");
      if (c != 0x5c) {
        if (out !== null) out.push(c);
        continue;
      }
      if (this.pos >= this.buf.length) return this.fail("unterminated string");
      const e = this.at(this.pos++);
      let ch: i32 = -1;
      if (e == 0x22 || e == 0x5c || e == 0x2f) ch = e;
      else if (e == 0x62) ch = 0x08;
      else if (e == 0x66) ch = 0x0c;
      else if (e == 0x6e) ch = 0x0a;
      else if (e == 0x72) ch = 0x0d;
      else if (e == 0x74) ch = 0x09;
      else if (e == 0x75) {
        ch = this.hex4();
        if (ch < 0) return this.fail("bad \\u escape");
        if (ch >= 0xd800 && ch < 0xdc00 && this.pos + 1 < this.buf.length &&
            this.at(this.pos) == 0x5c && this.at(this.pos + 1) == 0x75) {
          const save = this.pos;
          this.pos += 2;
          const lo = this.hex4();
          if (lo >= 0xdc00 && lo < 0xe000) ch = 0x10000 + ((ch - 0xd800) << 10) + (lo - 0xdc00);
          else this.pos = save;
        }
        if (ch >= 0xd800 && ch < 0xe000) ch = 0xfffd; // lone surrogate
      } else return this.fail("bad escape");
      if (out !== null) pushUtf8(out, ch);
    }
    return true;
  }

  // With pos at an object, moves pos to the value of its member `key`.
  // False if the member is absent or the JSON is malformed (then `error` says why).
  member(key: string): bool {
    const want = String.UTF8.encode(key);
    if (!this.expect(0x7b)) return false;
    if (this.peek() == 0x7d) return false;
    while (true) {
      const name = new Array<u8>();
      if (!this.string(name) || !this.expect(0x3a)) return false;
      if (sameBytes(name, want)) {
        this.skipWs();
        return true;
      }
      if (!this.value()) return false;
      if (this.peek() == 0x7d) return false;
      if (!this.expect(0x2c)) return false;
    }
    return false;
  }

  // With pos at an array, moves pos to its first element. False if empty or not an array.
  first(): bool {
    if (!this.expect(0x5b)) return false;
    return this.peek() != 0x5d;
  }

  // The JSON string at pos, decoded; null if the value there is not a string.
  text(): string | null {
    if (this.peek() != 0x22) return null;
    const out = new Array<u8>();
    if (!this.string(out)) return null;
    return String.UTF8.decode(bytesOf(out).buffer);
  }

  // Skips any JSON value.
  value(): bool {
    const c = this.peek();
    if (c == 0x22) return this.string(null);
    if (c == 0x7b || c == 0x5b) {
      const close: u8 = c == 0x7b ? 0x7d : 0x5d;
      this.pos++;
      if (this.peek() == <i32>close) {
        this.pos++;
        return true;
      }
      while (true) {
        if (c == 0x7b) {
          if (!this.string(null) || !this.expect(0x3a)) return false;
        }
        if (!this.value()) return false;
        const n = this.peek();
        if (n == <i32>close) {
          this.pos++;
          return true;
        }
        if (!this.expect(0x2c)) return false;
      }
    }
    // number, true, false, null: a run of literal characters
    const start = this.pos;
    while (this.pos < this.buf.length) {
      const b = this.at(this.pos);
      const lit = (b >= 0x30 && b <= 0x39) || (b >= 0x61 && b <= 0x7a) || b == 0x2d || b == 0x2b || b == 0x2e || b == 0x45;
      if (!lit) break;
      this.pos++;
    }
    if (this.pos == start) return this.fail("expected a value");
    return true;
  }
}

export function pushUtf8(out: Array<u8>, cp: i32): void {
  if (cp < 0x80) out.push(<u8>cp);
  else if (cp < 0x800) {
    out.push(<u8>(0xc0 | (cp >> 6)));
    out.push(<u8>(0x80 | (cp & 0x3f)));
  } else if (cp < 0x10000) {
    out.push(<u8>(0xe0 | (cp >> 12)));
    out.push(<u8>(0x80 | ((cp >> 6) & 0x3f)));
    out.push(<u8>(0x80 | (cp & 0x3f)));
  } else {
    out.push(<u8>(0xf0 | (cp >> 18)));
    out.push(<u8>(0x80 | ((cp >> 12) & 0x3f)));
    out.push(<u8>(0x80 | ((cp >> 6) & 0x3f)));
    out.push(<u8>(0x80 | (cp & 0x3f)));
  }
}

export function bytesOf(arr: Array<u8>): Uint8Array {
  const out = new Uint8Array(arr.length);
  for (let i = 0; i < arr.length; i++) unchecked((out[i] = arr[i]));
  return out;
}

export function jsonEscape(s: string): string {
  const parts = new Array<string>();
  let run = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    let esc: string | null = null;
    if (c == 0x22) esc = '\\"';
    else if (c == 0x5c) esc = "\\\\";
    else if (c == 0x0a) esc = "\\n";
    else if (c == 0x0d) esc = "\\r";
    else if (c == 0x09) esc = "\\t";
    else if (c < 0x20) esc = "\\u00" + (c < 0x10 ? "0" : "") + c.toString(16);
    if (esc === null) continue;
    if (i > run) parts.push(s.substring(run, i));
    parts.push(esc);
    run = i + 1;
  }
  if (run == 0) return s;
  parts.push(s.substring(run));
  return parts.join("");
}

function sameBytes(a: Array<u8>, b: ArrayBuffer): bool {
  if (a.length != b.byteLength) return false;
  for (let i = 0; i < a.length; i++) {
    if (unchecked(a[i]) != load<u8>(changetype<usize>(b) + <usize>i)) return false;
  }
  return true;
}
