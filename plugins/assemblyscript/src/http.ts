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
import { bytesOf, jsonEscape, Scanner } from "./common/json";

@external("extism:host/env", "http_status_code")
declare function http_status_code(): i32;

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
