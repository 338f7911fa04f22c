// http: one HTTP request through the Extism host (`http_request`).
//
// Input (JSON object):
//   {"url": "...", "method": "GET", "headers": {"k": "v"}, "body": "..."}
// `body` is optional (a JSON string, sent as its UTF-8 bytes; null, absent
// or "" sends no body). Every other member is passed to the host verbatim as
// the request spec, so the host validates url/method/headers.
// Output (JSON): {"status":N,"body":"<response body as text>"}
//
// as-pdk 1.0.0 only binds `http_request` (in lib/env, with no wrapper class)
// and neither `http_status_code` nor `http_headers`, so the status import is
// declared here and response headers are not reported (see
// plugins/wat/http_headers.wat for those).
import { Host, Memory } from "@extism/as-pdk";
import { http_request, length } from "@extism/as-pdk/lib/env";
import { outputUtf8, setError } from "./common/helpers";

@external("extism:host/env", "http_status_code")
declare function http_status_code(): i32;

// ---- a minimal JSON scanner over UTF-8 bytes ------------------------------

class Scanner {
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

function pushUtf8(out: Array<u8>, cp: i32): void {
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

function bytesOf(arr: Array<u8>): Uint8Array {
  const out = new Uint8Array(arr.length);
  for (let i = 0; i < arr.length; i++) unchecked((out[i] = arr[i]));
  return out;
}

function jsonEscape(s: string): string {
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

// ---- the export -------------------------------------------------------------

export function fetch(): i32 {
  const input = Host.input();
  const sc = new Scanner(input);

  // Rebuild the request object without `body`, keeping other members verbatim.
  const req = new Array<u8>();
  req.push(0x7b);
  let members = 0;
  let body: Uint8Array | null = null;
  let ok = sc.expect(0x7b);
  if (ok && sc.peek() == 0x7d) sc.pos++;
  else {
    while (ok) {
      const keyStart = sc.pos;
      const key = new Array<u8>();
      if (!sc.string(key) || !sc.expect(0x3a)) {
        ok = false;
        break;
      }
      const isBody = key.length == 4 && key[0] == 0x62 && key[1] == 0x6f && key[2] == 0x64 && key[3] == 0x79;
      const valueStart = sc.peek();
      if (isBody && valueStart == 0x22) {
        const b = new Array<u8>();
        if (!sc.string(b)) {
          ok = false;
          break;
        }
        body = bytesOf(b);
      } else if (isBody && valueStart != 0x6e /* null */) {
        ok = sc.fail("body must be a string or null");
        break;
      } else {
        if (!sc.value()) {
          ok = false;
          break;
        }
        if (!isBody) {
          if (members++ > 0) req.push(0x2c);
          for (let i = keyStart; i < sc.pos; i++) req.push(input[i]);
        }
      }
      const n = sc.peek();
      if (n == 0x7d) {
        sc.pos++;
        break;
      }
      if (!sc.expect(0x2c)) ok = false;
    }
  }
  if (ok && sc.peek() != -1) ok = sc.fail("trailing data");
  if (!ok) {
    const err = sc.error;
    setError("fetch: invalid request JSON: " + (err === null ? "?" : err));
    return 1;
  }
  req.push(0x7d);

  const reqMem = Memory.allocateBytes(bytesOf(req));
  let bodyOffset: u64 = 0;
  if (body !== null && body.length > 0) bodyOffset = Memory.allocateBytes(body).offset;

  const resOffset = http_request(reqMem.offset, bodyOffset);
  const status = http_status_code();
  let text = "";
  if (resOffset != 0) {
    const res = new Memory(resOffset, length(resOffset));
    text = String.UTF8.decode(res.toUint8Array().buffer);
  }
  outputUtf8('{"status":' + status.toString() + ',"body":"' + jsonEscape(text) + '"}');
  return 0;
}
