// The web-platform globals the JS PDK provides: each export checks one and
// returns what it saw as JSON (tests/js/test_js_globals.py compares).
const bytesOf = (u8) => Array.from(u8);
const hex = (buf) => Array.from(new Uint8Array(buf), (b) => b.toString(16).padStart(2, "0")).join("");

export function encode_into() {
  const small = new Uint8Array(3);
  const one = new Uint8Array(1);
  const exact = new Uint8Array(6);
  return JSON.stringify({
    hello: new TextEncoder().encodeInto("Hello", small), helloBytes: bytesOf(small),
    accent: new TextEncoder().encodeInto("é", one), accentBytes: bytesOf(one),
    mixed: new TextEncoder().encodeInto("aé😀", exact), mixedBytes: bytesOf(exact),
  });
}

export function clock() {
  const first = performance.now();
  let spin = 0;
  for (let i = 0; i < 100000; i++) spin += i;
  const second = performance.now();
  return JSON.stringify({ origin: performance.timeOrigin, wall: Date.now(), first, second, spin });
}

export function console_methods() {
  console.log(new Map([["a", 1]]), new Set([2]));
  console.assert(1 === 2, "one is not two");
  console.count();
  console.count();
  console.countReset();
  console.count();
  console.group("outer");
  console.info("inside");
  console.groupEnd();
  console.time("t");
  console.timeLog("t");
  console.timeEnd("t");
  console.table([{ a: 1 }, { a: 2 }]);
  return "logged";
}

export function clone() {
  const original = { date: new Date(0), map: new Map([[1, { deep: [1, 2] }]]), set: new Set(["x"]),
                     bytes: new Uint8Array([1, 2, 3]), re: /a+/g };
  original.self = original;
  const copy = structuredClone(original);
  let refused = null;
  try {
    structuredClone({ f() {} });
  } catch (e) {
    refused = e.name;
  }
  return JSON.stringify({
    distinct: copy !== original && copy.map !== original.map && copy.bytes !== original.bytes,
    cyclic: copy.self === copy,
    date: copy.date instanceof Date && copy.date.getTime() === 0,
    deep: copy.map.get(1).deep, set: [...copy.set], bytes: bytesOf(copy.bytes), re: String(copy.re),
    refused,
  });
}

export function events() {
  const target = new EventTarget();
  const seen = [];
  target.addEventListener("ping", (e) => seen.push(`first ${e.type}`));
  target.addEventListener("ping", { handleEvent: (e) => seen.push(`object ${e.target === target}`) },
                          { once: true });
  target.dispatchEvent(new Event("ping"));
  target.dispatchEvent(new Event("ping"));
  const cancel = new Event("stop", { cancelable: true });
  target.addEventListener("stop", (e) => e.preventDefault());
  return JSON.stringify({ seen, notCancelled: target.dispatchEvent(cancel) });
}

export async function digests() {
  const data = new TextEncoder().encode("abc");
  const out = {};
  for (const name of ["SHA-1", "SHA-256", "SHA-384", "SHA-512"]) {
    out[name] = hex(await crypto.subtle.digest(name, data));
  }
  out.long = hex(await crypto.subtle.digest("SHA-256", new Uint8Array(1000).fill(97)));
  return JSON.stringify(out);
}

export function randomness() {
  const a = crypto.getRandomValues(new Uint8Array(32));
  const b = crypto.getRandomValues(new Uint32Array(8));
  return JSON.stringify({ a: bytesOf(a), b: Array.from(b), uuid: crypto.randomUUID(),
                          self: self === globalThis });
}

export function urls() {
  const u = new URL("../b/./c?x=1&y=two+words#frag", "https://User:pw@Example.COM:8443/a/d/e");
  u.searchParams.append("z", "é&=");
  const p = new URLSearchParams({ b: "2", a: "1" });
  p.sort();
  let invalid = null;
  try {
    new URL("not a url");
  } catch (e) {
    invalid = e.name;
  }
  return JSON.stringify({
    href: u.href, origin: u.origin, host: u.host, pathname: u.pathname, x: u.searchParams.get("x"),
    y: u.searchParams.get("y"), hash: u.hash, params: p.toString(), invalid,
    plain: new URL("http://example.com").href, port: new URL("https://a.b:443/").port,
  });
}

export function buffers() {
  const b = Buffer.from("héllo");
  return JSON.stringify({
    hex: b.toString("hex"), base64: b.toString("base64"), back: Buffer.from(b.toString("base64"), "base64").toString(),
    fromHex: Buffer.from("6869", "hex").toString(), concat: Buffer.concat([Buffer.from("a"), Buffer.from("b")]).toString(),
    isBuffer: Buffer.isBuffer(b) && !Buffer.isBuffer(new Uint8Array(1)), length: Buffer.byteLength("héllo"),
  });
}

export async function fetches() {
  const url = Host.inputString();
  const response = await fetch(`${url}/echo`, {
    method: "POST", headers: { "X-Plugin": "fetch", "Content-Type": "text/plain" }, body: "sent body",
  });
  const echoed = await response.json();
  const missing = await fetch(new Request(`${url}/status/404`));
  return JSON.stringify({
    status: response.status, ok: response.ok, type: response.headers.get("content-type"),
    xtest: response.headers.get("X-Test"), method: echoed.method, body: echoed.body,
    header: echoed.headers["x-plugin"], missing: missing.status, missingOk: missing.ok,
    made: await Response.json({ a: 1 }).json(), used: response.bodyUsed,
  });
}

export function compat() {
  const order = ["a"];
  queueMicrotask(() => order.push("b"));
  order.push("c");
  let atobError = null;
  try {
    atob("!");
  } catch (e) {
    atobError = [e instanceof DOMException, e.name, e.code];
  }
  let btoaError = null;
  try {
    btoa("\u0100");
  } catch (e) {
    btoaError = e.name;
  }
  const latin1 = String.fromCharCode(...Array.from({ length: 256 }, (_, i) => i));
  return JSON.stringify({
    order: order.join(""), b64: btoa("Hi there!"), back: atob("SGkgdGhlcmUh"), latin1: atob(btoa(latin1)) === latin1,
    atobError, btoaError, notFound: new DOMException("m", "NotFoundError").code,
  });
}

export function buffer_more() {
  const b = Buffer.alloc(16);
  b.writeUInt16BE(0xbeef, 0);
  b.writeInt32LE(-7, 2);
  b.writeDoubleBE(2.5, 6);
  b.writeUInt8(200, 14);
  const hay = Buffer.from("one two one");
  const target = Buffer.alloc(7, ".");
  Buffer.from("abc").copy(target, 2);
  return JSON.stringify({
    ints: [b.readUInt16BE(0), b.readInt32LE(2), b.readDoubleBE(6), b.readUInt8(14), b.readUint16BE(0)],
    find: [hay.indexOf("one"), hay.indexOf("one", 1), hay.indexOf(0x74), hay.includes("two"), hay.includes("six")],
    compare: [Buffer.compare(Buffer.from("a"), Buffer.from("b")), Buffer.from("b").compare(Buffer.from("a")),
              Buffer.from("x").compare(Buffer.from("x"))],
    copied: target.toString(), filled: Buffer.alloc(5).fill("xy").toString(),
    json: Buffer.from(Buffer.from([1, 2]).toJSON()).equals(Buffer.from([1, 2])),
    encodings: [Buffer.isEncoding("base64url"), Buffer.isEncoding("klingon")],
  });
}

export function console_warnings() {
  console.countReset("never");
  console.time("twice");
  console.time("twice");
  console.timeEnd("nothing");
  return "warned";
}
