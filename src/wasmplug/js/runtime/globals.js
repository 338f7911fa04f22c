// The web-platform globals the JS PDK provides beyond Host/Var/Config/Http:
// evaluated once per context after the PDK's own API (wasmplug_js.c), with the
// global object `g` and the runtime's natives `n`. Compiled into the runtime as
// a C string (build_runtime.py writes globals_js.h from this file).
(function (g, n) {
  "use strict";
  const define = (name, value) =>
    Object.defineProperty(g, name, { value, writable: true, configurable: true, enumerable: false });

  define("self", g);

  // ---- TextEncoder.encodeInto: whole characters only, `read` in UTF-16 units ----
  const encodeInto = function (source, destination) {
    const s = String(source);
    let read = 0;
    let written = 0;
    for (const ch of s) {
      const cp = ch.codePointAt(0);
      const size = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
      if (written + size > destination.length) break;
      const bytes = new Uint8Array(n.utf8Encode(cp >= 0xd800 && cp <= 0xdfff ? "\ufffd" : ch));
      destination.set(bytes, written);
      written += bytes.length;
      read += ch.length;
    }
    return { read, written };
  };
  Object.defineProperty(g.TextEncoder.prototype, "encodeInto", { value: encodeInto, writable: true,
                                                               configurable: true });

  // ---- performance: the clock is read at first use, not when the runtime was snapshotted ----
  const monotonic = g.performance.now.bind(g.performance);
  let originMono;
  let originWall;
  const start = () => {
    if (originMono === undefined) {
      originMono = monotonic();
      originWall = Date.now();
    }
  };
  define("performance", {
    get timeOrigin() { start(); return originWall; },
    now() { start(); return monotonic() - originMono; },
    toJSON() { start(); return { timeOrigin: originWall }; },
  });

  // ---- console: the rest of the methods, and Map/Set/Error shown readably ----
  const show = (x, seen = new Set()) => {
    if (typeof x === "string") return x;
    if (x instanceof Error) return x.stack ? `${x}\n${x.stack}`.trimEnd() : String(x);
    if (typeof x === "function") return `[Function: ${x.name || "anonymous"}]`;
    if (typeof x === "bigint") return `${x}n`;
    if (typeof x === "symbol" || x === undefined) return String(x);
    if (x === null || typeof x !== "object") return String(x);
    if (seen.has(x)) return "[Circular]";
    seen.add(x);
    const inner = (v) => (typeof v === "string" ? JSON.stringify(v) : show(v, seen));
    try {
      if (x instanceof Map) return `Map(${x.size}) {${[...x].map(([k, v]) => ` ${inner(k)} => ${inner(v)}`).join(",")} }`;
      if (x instanceof Set) return `Set(${x.size}) {${[...x].map((v) => ` ${inner(v)}`).join(",")} }`;
      if (x instanceof Date) return x.toISOString();
      if (Array.isArray(x)) return `[ ${x.map(inner).join(", ")} ]`;
      if (ArrayBuffer.isView(x)) return `${x.constructor.name}(${x.length}) [ ${Array.from(x).join(", ")} ]`;
      const json = JSON.stringify(x);
      return json === undefined ? String(x) : json;
    } catch (e) {
      return String(x);
    } finally {
      seen.delete(x);
    }
  };
  const console = g.console;
  const levels = { trace: 0, debug: 1, log: 2, info: 2, warn: 3, error: 4 };
  let indent = "";
  const write = (level, args) => n.log(level, indent + args.map((a) => show(a)).join(" ").split("\n").join("\n" + indent));
  for (const [name, level] of Object.entries(levels)) console[name] = (...args) => write(level, args);
  const counts = new Map();
  const timers = new Map();
  Object.assign(console, {
    assert(ok, ...args) { if (!ok) write(4, ["Assertion failed" + (args.length ? ":" : ""), ...args]); },
    count(label = "default") { const c = (counts.get(label) || 0) + 1; counts.set(label, c); write(2, [`${label}: ${c}`]); },
    countReset(label = "default") {
      if (!counts.delete(label)) write(3, [`Count for '${label}' does not exist`]);
    },
    time(label = "default") {
      if (timers.has(label)) return write(3, [`Timer '${label}' already exists`]);
      timers.set(label, g.performance.now());
    },
    timeLog(label = "default", ...args) {
      if (!timers.has(label)) return write(3, [`Timer '${label}' does not exist`]);
      write(2, [`${label}: ${(g.performance.now() - timers.get(label)).toFixed(3)}ms`, ...args]);
    },
    timeEnd(label = "default") { console.timeLog(label); timers.delete(label); },
    group(...args) { if (args.length) write(2, args); indent += "  "; },
    groupCollapsed(...args) { console.group(...args); },
    groupEnd() { indent = indent.slice(2); },
    dir(x) { write(2, [x]); },
    table(data) {
      if (data === null || typeof data !== "object") return write(2, [data]);
      const rows = Object.entries(data).map(([k, v]) => `${k}\t${v !== null && typeof v === "object" ? Object.values(v).map((c) => show(c)).join("\t") : show(v)}`);
      write(2, [rows.join("\n")]);
    },
  });

  // ---- structuredClone ----
  const DOM_CODES = {
    IndexSizeError: 1, HierarchyRequestError: 3, WrongDocumentError: 4, InvalidCharacterError: 5,
    NoModificationAllowedError: 7, NotFoundError: 8, NotSupportedError: 9, InvalidStateError: 11,
    SyntaxError: 12, InvalidModificationError: 13, NamespaceError: 14, InvalidAccessError: 15,
    TypeMismatchError: 17, SecurityError: 18, NetworkError: 19, AbortError: 20, URLMismatchError: 21,
    QuotaExceededError: 22, TimeoutError: 23, InvalidNodeTypeError: 24, DataCloneError: 25,
  };
  class DOMException extends Error {
    constructor(message = "", name = "Error") { super(message); this.name = String(name); }
    get code() { return DOM_CODES[this.name] || 0; }
  }
  define("DOMException", DOMException);
  const clone = (v, memo) => {
    if (v === null || (typeof v !== "object" && typeof v !== "function" && typeof v !== "symbol")) return v;
    if (typeof v === "function" || typeof v === "symbol") {
      throw new DOMException(`${String(v.name || v.description || v)} could not be cloned.`, "DataCloneError");
    }
    if (memo.has(v)) return memo.get(v);
    let out;
    if (v instanceof Date) out = new Date(v.getTime());
    else if (v instanceof RegExp) out = new RegExp(v.source, v.flags);
    else if (v instanceof ArrayBuffer) out = v.slice(0);
    else if (ArrayBuffer.isView(v)) {
      const buffer = clone(v.buffer, memo);
      out = v instanceof DataView ? new DataView(buffer, v.byteOffset, v.byteLength)
        : new v.constructor(buffer, v.byteOffset, v.length);
    } else if (v instanceof Map) {
      out = new Map();
      memo.set(v, out);
      for (const [k, x] of v) out.set(clone(k, memo), clone(x, memo));
      return out;
    } else if (v instanceof Set) {
      out = new Set();
      memo.set(v, out);
      for (const x of v) out.add(clone(x, memo));
      return out;
    } else if (v instanceof Error) {
      out = new (g[v.name] && g[v.name].prototype instanceof Error ? g[v.name] : Error)(v.message);
      if (v.stack !== undefined) out.stack = v.stack;
    } else if (v instanceof Boolean || v instanceof Number || v instanceof String) {
      out = Object(v.valueOf());
    } else if (Array.isArray(v)) {
      out = new Array(v.length);
      memo.set(v, out);
      for (const k of Object.keys(v)) out[k] = clone(v[k], memo);
      return out;
    } else {
      if (v instanceof Promise || v instanceof WeakMap || v instanceof WeakSet) {
        throw new DOMException(`${Object.prototype.toString.call(v)} could not be cloned.`, "DataCloneError");
      }
      out = {};
      memo.set(v, out);
      for (const k of Object.keys(v)) out[k] = clone(v[k], memo);
      return out;
    }
    memo.set(v, out);
    return out;
  };
  define("structuredClone", (value) => clone(value, new Map()));

  // ---- Event / EventTarget ----
  class Event {
    constructor(type, init = {}) {
      if (arguments.length === 0) throw new TypeError("Event: the type is required");
      this.type = String(type);
      this.bubbles = !!init.bubbles;
      this.cancelable = !!init.cancelable;
      this.defaultPrevented = false;
      this.target = null;
      this.currentTarget = null;
      this.timeStamp = g.performance.now();
    }
    preventDefault() { if (this.cancelable) this.defaultPrevented = true; }
    stopPropagation() {}
    stopImmediatePropagation() { this._stop = true; }
  }
  class EventTarget {
    #listeners = new Map();
    addEventListener(type, listener, options = {}) {
      if (listener == null) return;
      const list = this.#listeners.get(type) || [];
      if (!list.some((l) => l.listener === listener)) {
        list.push({ listener, once: typeof options === "object" && !!options.once });
      }
      this.#listeners.set(type, list);
    }
    removeEventListener(type, listener) {
      const list = this.#listeners.get(type);
      if (list) this.#listeners.set(type, list.filter((l) => l.listener !== listener));
    }
    dispatchEvent(event) {
      event.target = this;
      event.currentTarget = this;
      for (const entry of [...(this.#listeners.get(event.type) || [])]) {
        if (entry.once) this.removeEventListener(event.type, entry.listener);
        const l = entry.listener;
        if (typeof l === "function") l.call(this, event);
        else if (l && typeof l.handleEvent === "function") l.handleEvent(event);
        if (event._stop) break;
      }
      event.currentTarget = null;
      return !event.defaultPrevented;
    }
  }
  define("Event", Event);
  define("EventTarget", EventTarget);

  // ---- crypto: randomness from the host (WASI random_get), SHA digests in C ----
  const getRandomValues = (array) => {
    if (!ArrayBuffer.isView(array) || array instanceof Float32Array || array instanceof Float64Array
        || array instanceof DataView) {
      throw new TypeError("crypto.getRandomValues: expected an integer typed array");
    }
    if (array.byteLength > 65536) {
      throw new DOMException("crypto.getRandomValues: at most 65536 bytes at a time", "QuotaExceededError");
    }
    n.random(new Uint8Array(array.buffer, array.byteOffset, array.byteLength));
    return array;
  };
  const hex = (bytes) => Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  const randomUUID = () => {
    const b = getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    const h = hex(b);
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  };
  const DIGESTS = { "SHA-1": 1, "SHA-256": 256, "SHA-384": 384, "SHA-512": 512 };
  const subtle = {
    digest(algorithm, data) {
      try {
        const name = String(typeof algorithm === "object" && algorithm !== null ? algorithm.name : algorithm)
          .toUpperCase();
        if (!(name in DIGESTS)) {
          throw new DOMException(`crypto.subtle.digest: unsupported algorithm ${name}`, "NotSupportedError");
        }
        const bytes = data instanceof ArrayBuffer ? new Uint8Array(data)
          : ArrayBuffer.isView(data) ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength) : null;
        if (bytes === null) throw new TypeError("crypto.subtle.digest: data must be an ArrayBuffer or a view");
        return Promise.resolve(n.digest(DIGESTS[name], bytes));
      } catch (e) {
        return Promise.reject(e);
      }
    },
  };
  define("crypto", { getRandomValues, randomUUID, subtle });

  // ---- URLSearchParams and URL (absolute and relative http(s)/file-like URLs) ----
  const formEncode = (t) => encodeURIComponent(t).replace(/%20/g, "+").replace(/[!'()~]/g,
    (c) => "%" + c.charCodeAt(0).toString(16).toUpperCase());
  const formDecode = (t) => {
    try { return decodeURIComponent(t.replace(/\+/g, " ")); } catch (e) { return t; }
  };
  class URLSearchParams {
    #list = [];
    #onChange = null;
    constructor(init = "") {
      if (typeof init === "object" && init !== null) {
        const pairs = typeof init[Symbol.iterator] === "function" ? init : Object.entries(init);
        for (const pair of pairs) {
          const [k, v] = [...pair];
          if ([...pair].length !== 2) throw new TypeError("URLSearchParams: each pair needs a name and a value");
          this.#list.push([String(k), String(v)]);
        }
      } else {
        this.#parse(String(init));
      }
    }
    #parse(text) {
      this.#list = [];
      for (const part of text.replace(/^\?/, "").split("&")) {
        if (!part) continue;
        const eq = part.indexOf("=");
        this.#list.push(eq < 0 ? [formDecode(part), ""] : [formDecode(part.slice(0, eq)), formDecode(part.slice(eq + 1))]);
      }
    }
    static _bind(params, text, onChange) { params.#parse(text); params.#onChange = onChange; return params; }
    #changed() { if (this.#onChange) this.#onChange(this.toString()); }
    get size() { return this.#list.length; }
    append(k, v) { this.#list.push([String(k), String(v)]); this.#changed(); }
    delete(k, v) {
      this.#list = this.#list.filter(([a, b]) => a !== String(k) || (v !== undefined && b !== String(v)));
      this.#changed();
    }
    get(k) { const e = this.#list.find(([a]) => a === String(k)); return e ? e[1] : null; }
    getAll(k) { return this.#list.filter(([a]) => a === String(k)).map(([, b]) => b); }
    has(k, v) { return this.#list.some(([a, b]) => a === String(k) && (v === undefined || b === String(v))); }
    set(k, v) {
      const i = this.#list.findIndex(([a]) => a === String(k));
      if (i < 0) this.#list.push([String(k), String(v)]);
      else this.#list = this.#list.filter(([a], j) => j <= i || a !== String(k)), this.#list[i] = [String(k), String(v)];
      this.#changed();
    }
    sort() { this.#list.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)); this.#changed(); }
    forEach(fn, self) { for (const [k, v] of this.#list) fn.call(self, v, k, this); }
    *entries() { yield* this.#list.map(([k, v]) => [k, v]); }
    *keys() { for (const [k] of this.#list) yield k; }
    *values() { for (const [, v] of this.#list) yield v; }
    [Symbol.iterator]() { return this.entries(); }
    toString() { return this.#list.map(([k, v]) => formEncode(k) + "=" + formEncode(v)).join("&"); }
    get [Symbol.toStringTag]() { return "URLSearchParams"; }
  }
  define("URLSearchParams", URLSearchParams);

  const SPECIAL = { "http:": "80", "https:": "443", "ws:": "80", "wss:": "443", "ftp:": "21", "file:": "" };
  const URL_RE = /^([a-zA-Z][a-zA-Z0-9+.-]*:)(?:\/\/(?:([^:@\/?#]*)(?::([^@\/?#]*))?@)?(\[[^\]]*\]|[^:\/?#]*)(?::(\d*))?)?([^?#]*)(\?[^#]*)?(#.*)?$/;
  const normalizePath = (path) => {
    const out = [];
    for (const seg of path.split("/").slice(1)) {
      if (seg === "..") out.pop();
      else if (seg !== ".") out.push(seg);
    }
    const last = path.split("/").pop();
    return "/" + out.join("/") + (last === "." || last === ".." ? "/" : "");
  };
  const encodePath = (p) => p.replace(/[^A-Za-z0-9\-._~!$&'()*+,;=:@\/%]/g, (c) => encodeURIComponent(c));
  const encodeQuery = (q) => q.replace(/[^A-Za-z0-9\-._~!$&'()*+,;=:@\/?%]/g, (c) => encodeURIComponent(c));
  class URL {
    #p;
    #params;
    constructor(url, base) {
      let text = String(url).trim();
      if (!/^[a-zA-Z][a-zA-Z0-9+.-]*:/.test(text)) {
        if (base === undefined) throw new TypeError(`Invalid URL: ${text}`);
        const b = new URL(base);
        const auth = b.username || b.password ? `${b.username}${b.password ? ":" + b.password : ""}@` : "";
        const root = `${b.protocol}//${auth}${b.host}`;
        if (text.startsWith("//")) text = b.protocol + text;
        else if (text.startsWith("/")) text = `${root}${text}`;
        else if (text.startsWith("?")) text = `${root}${b.pathname}${text}`;
        else if (text.startsWith("#")) text = `${root}${b.pathname}${b.search}${text}`;
        else if (text === "") text = `${root}${b.pathname}${b.search}`;
        else text = `${root}${b.pathname.replace(/[^/]*$/, "")}${text}`;
      }
      const m = URL_RE.exec(text.replace(/\\/g, "/"));
      if (!m) throw new TypeError(`Invalid URL: ${text}`);
      const protocol = m[1].toLowerCase();
      const special = protocol in SPECIAL;
      if (special && protocol !== "file:" && !m[4]) throw new TypeError(`Invalid URL: ${text}`);
      const port = m[5] && m[5] !== SPECIAL[protocol] ? String(Number(m[5])) : "";
      if (port && Number(port) > 65535) throw new TypeError(`Invalid URL: ${text}`);
      let pathname = m[6] || "";
      if (special || m[4] !== undefined) pathname = normalizePath(pathname.startsWith("/") ? pathname : "/" + pathname);
      this.#p = {
        protocol, username: m[2] || "", password: m[3] || "", hostname: (m[4] || "").toLowerCase(), port,
        pathname: encodePath(pathname), search: m[7] && m[7] !== "?" ? encodeQuery(m[7]) : "",
        hash: m[8] && m[8] !== "#" ? m[8] : "", hasAuthority: m[4] !== undefined,
      };
      this.#params = URLSearchParams._bind(new URLSearchParams(), this.#p.search,
                                           (q) => { this.#p.search = q ? "?" + q : ""; });
    }
    static canParse(url, base) { try { new URL(url, base); return true; } catch (e) { return false; } }
    get protocol() { return this.#p.protocol; }
    get username() { return this.#p.username; }
    get password() { return this.#p.password; }
    get hostname() { return this.#p.hostname; }
    get port() { return this.#p.port; }
    get host() { return this.#p.hostname + (this.#p.port ? ":" + this.#p.port : ""); }
    get origin() { return this.#p.protocol in SPECIAL && this.#p.protocol !== "file:" ? `${this.#p.protocol}//${this.host}` : "null"; }
    get pathname() { return this.#p.pathname; }
    set pathname(v) { this.#p.pathname = encodePath(normalizePath("/" + String(v).replace(/^\//, ""))); }
    get search() { return this.#p.search; }
    set search(v) {
      const q = String(v).replace(/^\?/, "");
      this.#p.search = q ? "?" + encodeQuery(q) : "";
      URLSearchParams._bind(this.#params, this.#p.search, (t) => { this.#p.search = t ? "?" + t : ""; });
    }
    get searchParams() { return this.#params; }
    get hash() { return this.#p.hash; }
    set hash(v) { const h = String(v).replace(/^#/, ""); this.#p.hash = h ? "#" + h : ""; }
    get href() {
      const p = this.#p;
      const auth = p.username || p.password ? `${p.username}${p.password ? ":" + p.password : ""}@` : "";
      return `${p.protocol}${p.hasAuthority ? "//" + auth + this.host : ""}${p.pathname}${p.search}${p.hash}`;
    }
    toString() { return this.href; }
    toJSON() { return this.href; }
    get [Symbol.toStringTag]() { return "URL"; }
  }
  define("URL", URL);

  // ---- fetch, Headers, Request, Response: over the host's http_request (allowed_hosts applies) ----
  class Headers {
    #map = new Map();
    constructor(init = undefined) {
      if (init instanceof Headers) for (const [k, v] of init) this.append(k, v);
      else if (init && typeof init[Symbol.iterator] === "function") for (const [k, v] of init) this.append(k, v);
      else if (init && typeof init === "object") for (const [k, v] of Object.entries(init)) this.append(k, v);
    }
    append(k, v) {
      const key = String(k).toLowerCase();
      const old = this.#map.get(key);
      this.#map.set(key, old === undefined ? String(v) : `${old}, ${v}`);
    }
    set(k, v) { this.#map.set(String(k).toLowerCase(), String(v)); }
    get(k) { const v = this.#map.get(String(k).toLowerCase()); return v === undefined ? null : v; }
    has(k) { return this.#map.has(String(k).toLowerCase()); }
    delete(k) { this.#map.delete(String(k).toLowerCase()); }
    forEach(fn, self) { for (const [k, v] of this) fn.call(self, v, k, this); }
    *entries() { yield* [...this.#map].sort(([a], [b]) => (a < b ? -1 : 1)); }
    *keys() { for (const [k] of this.entries()) yield k; }
    *values() { for (const [, v] of this.entries()) yield v; }
    [Symbol.iterator]() { return this.entries(); }
  }
  const bodyText = (body) => {
    if (body === undefined || body === null) return null;
    if (typeof body === "string") return body;
    if (body instanceof URLSearchParams) return body.toString();
    if (body instanceof ArrayBuffer || ArrayBuffer.isView(body)) return new TextDecoder().decode(body);
    return String(body);
  };
  class Body {
    #text;
    constructor(body) { this.#text = bodyText(body); this.bodyUsed = false; }
    #take() {
      if (this.bodyUsed) return Promise.reject(new TypeError("the body was already read"));
      this.bodyUsed = true;
      return Promise.resolve(this.#text === null ? "" : this.#text);
    }
    text() { return this.#take(); }
    json() { return this.#take().then((t) => JSON.parse(t)); }
    arrayBuffer() { return this.#take().then((t) => new TextEncoder().encode(t).buffer); }
    bytes() { return this.#take().then((t) => new TextEncoder().encode(t)); }
    get _text() { return this.#text; }
  }
  class Request extends Body {
    constructor(input, init = {}) {
      const from = input instanceof Request ? input : null;
      super(init.body !== undefined ? init.body : from ? from._text : null);
      this.url = from ? from.url : new URL(String(input)).href;
      this.method = String(init.method || (from ? from.method : "GET")).toUpperCase();
      this.headers = new Headers(init.headers || (from ? from.headers : undefined));
    }
    clone() { return new Request(this); }
  }
  class Response extends Body {
    constructor(body = null, init = {}) {
      super(body);
      this.status = init.status === undefined ? 200 : init.status;
      this.statusText = init.statusText || "";
      this.headers = new Headers(init.headers);
      this.url = init.url || "";
      this.type = "default";
      this.redirected = false;
    }
    get ok() { return this.status >= 200 && this.status < 300; }
    clone() { return new Response(this._text, this); }
    static json(data, init = {}) {
      const headers = new Headers(init.headers);
      if (!headers.has("content-type")) headers.set("content-type", "application/json");
      return new Response(JSON.stringify(data), { ...init, headers });
    }
    static error() { return new Response(null, { status: 0 }); }
  }
  define("Headers", Headers);
  define("Request", Request);
  define("Response", Response);
  define("fetch", (input, init = {}) => {
    try {
      const request = new Request(input, init);
      const headers = {};
      for (const [k, v] of request.headers) headers[k] = v;
      const r = g.Http.request({ url: request.url, method: request.method, headers }, request._text);
      return Promise.resolve(new Response(r.body, { status: r.status, headers: r.headers, url: request.url }));
    } catch (e) {
      return Promise.reject(e);
    }
  });

  // ---- Buffer: the subset of Node's the PDK ships ----
  const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  class Buffer extends Uint8Array {
    static from(value, encodingOrOffset, length) {
      if (typeof value === "string") {
        const enc = String(encodingOrOffset || "utf8").toLowerCase();
        if (enc === "hex") {
          const out = Buffer.alloc(Math.floor(value.length / 2));
          for (let i = 0; i < out.length; i++) out[i] = parseInt(value.substr(2 * i, 2), 16);
          return out;
        }
        if (enc === "base64" || enc === "base64url") {
          const clean = value.replace(/-/g, "+").replace(/_/g, "/");
          return new Buffer(g.Host.base64ToArrayBuffer(clean));
        }
        if (enc === "latin1" || enc === "binary" || enc === "ascii") {
          return Buffer.of(...Array.from(value, (c) => c.charCodeAt(0) & 255));
        }
        if (enc !== "utf8" && enc !== "utf-8") throw new TypeError(`Buffer.from: unknown encoding ${enc}`);
        return new Buffer(n.utf8Encode(value));
      }
      if (value instanceof ArrayBuffer) return new Buffer(value, encodingOrOffset || 0, length);
      if (ArrayBuffer.isView(value)) return new Buffer(value.buffer.slice(value.byteOffset, value.byteOffset + value.byteLength));
      if (Array.isArray(value) || (value && typeof value.length === "number")) return new Buffer(Uint8Array.from(value).buffer);
      throw new TypeError("Buffer.from: expected a string, an array, an ArrayBuffer or a view");
    }
    static alloc(size, fill = 0) { return new Buffer(size).fill(typeof fill === "string" ? fill.charCodeAt(0) : fill); }
    static allocUnsafe(size) { return new Buffer(size); }
    static isBuffer(x) { return x instanceof Buffer; }
    static byteLength(s, enc) { return typeof s === "string" ? Buffer.from(s, enc).length : s.byteLength; }
    static concat(list, total) {
      const size = total === undefined ? list.reduce((a, b) => a + b.length, 0) : total;
      const out = Buffer.alloc(size);
      let at = 0;
      for (const b of list) { if (at >= size) break; out.set(b.subarray(0, size - at), at); at += b.length; }
      return out;
    }
    toString(encoding = "utf8", start = 0, end = this.length) {
      const part = this.subarray(start, end);
      const enc = String(encoding).toLowerCase();
      if (enc === "hex") return Array.from(part, (b) => b.toString(16).padStart(2, "0")).join("");
      if (enc === "base64") return g.Host.arrayBufferToBase64(part.slice().buffer);
      if (enc === "base64url") return g.Host.arrayBufferToBase64(part.slice().buffer).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
      if (enc === "latin1" || enc === "binary" || enc === "ascii") return String.fromCharCode(...part);
      return new TextDecoder().decode(part);
    }
    toJSON() { return { type: "Buffer", data: Array.from(this) }; }
    equals(other) { return this.length === other.length && this.every((b, i) => b === other[i]); }
    write(string, offset = 0) { const b = Buffer.from(string); this.set(b.subarray(0, this.length - offset), offset); return Math.min(b.length, this.length - offset); }
    slice(start, end) { return this.subarray(start, end); }
  }
  define("Buffer", Buffer);

  // ---- atob / btoa (Latin-1 strings <-> base64) ----
  define("btoa", (data) => {
    const text = String(data);
    const bytes = new Uint8Array(text.length);
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c > 255) throw new DOMException("btoa: the string has characters outside Latin-1", "InvalidCharacterError");
      bytes[i] = c;
    }
    return g.Host.arrayBufferToBase64(bytes.buffer);
  });
  define("atob", (data) => {
    let text = String(data).replace(/[\t\n\f\r ]/g, "");
    if (text.length % 4 === 0) text = text.replace(/==?$/, "");
    if (text.length % 4 === 1 || /[^A-Za-z0-9+/]/.test(text)) {
      throw new DOMException("atob: the string is not valid base64", "InvalidCharacterError");
    }
    return String.fromCharCode(...new Uint8Array(g.Host.base64ToArrayBuffer(text)));
  });

  // ---- queueMicrotask: as in the JS PDK, the callback runs at once ----
  define("queueMicrotask", (callback) => {
    if (typeof callback !== "function") throw new TypeError("queueMicrotask: the callback must be a function");
    callback();
  });

  // ---- more of Node's Buffer: every encoding the PDK's Buffer knows ----
  const ENCODING_NAMES = { "utf8": "utf8", "utf-8": "utf8", "hex": "hex", "base64": "base64",
    "base64url": "base64url", "latin1": "latin1", "binary": "latin1", "ascii": "ascii",
    "utf16le": "utf16le", "utf-16le": "utf16le", "ucs2": "utf16le", "ucs-2": "utf16le" };
  const encodingOf = (enc) => {
    const name = ENCODING_NAMES[String(enc === undefined ? "utf8" : enc).toLowerCase()];
    if (name === undefined) throw new TypeError(`Unknown encoding: ${enc}`);
    return name;
  };
  const fromString = Buffer.from;
  const needle = (value, enc) => (typeof value === "number" ? Uint8Array.of(value & 255)
    : typeof value === "string" ? Buffer.from(value, enc) : value);
  Object.assign(Buffer, {
    isEncoding(enc) { return typeof enc === "string" && ENCODING_NAMES[enc.toLowerCase()] !== undefined; },
    compare(a, b) { return a.compare(b); },
    alloc(size, fill, encoding) {
      const out = new Buffer(size);
      return fill === undefined ? out : out.fill(fill, 0, size, encoding);
    },
  });
  Buffer.from = function (value, encodingOrOffset, length) {
    if (value && value.type === "Buffer" && Array.isArray(value.data)) return fromString.call(Buffer, value.data);
    if (typeof value === "string") {
      const enc = encodingOf(encodingOrOffset);
      if (enc === "utf16le") {
        const out = new Buffer(value.length * 2);
        for (let i = 0; i < value.length; i++) {
          const code = value.charCodeAt(i);
          out[2 * i] = code & 255;
          out[2 * i + 1] = code >> 8;
        }
        return out;
      }
      return fromString.call(Buffer, value, enc === "ascii" ? "latin1" : enc);
    }
    return fromString.call(Buffer, value, encodingOrOffset, length);
  };
  const toStringBase = Buffer.prototype.toString;
  Buffer.prototype.toString = function (encoding, start = 0, end = this.length) {
    const enc = encodingOf(encoding);
    const part = this.subarray(start, end);
    if (enc === "ascii") return String.fromCharCode(...Array.from(part, (b) => b & 127));
    if (enc === "utf16le") {
      let out = "";
      for (let i = 0; i + 1 < part.length; i += 2) out += String.fromCharCode(part[i] | (part[i + 1] << 8));
      return out;
    }
    return toStringBase.call(this, enc, start, end);
  };
  Buffer.prototype.write = function (string, offsetOrEncoding, lengthOrEncoding, encoding) {
    let offset = 0, length, enc = "utf8";
    if (typeof offsetOrEncoding === "string") enc = offsetOrEncoding;
    else {
      offset = offsetOrEncoding || 0;
      if (typeof lengthOrEncoding === "string") enc = lengthOrEncoding;
      else { length = lengthOrEncoding; if (encoding !== undefined) enc = encoding; }
    }
    const bytes = Buffer.from(String(string), enc);
    const n1 = Math.max(0, Math.min(length === undefined ? bytes.length : length, bytes.length, this.length - offset));
    this.set(bytes.subarray(0, n1), offset);
    return n1;
  };
  const views = new WeakMap();
  const view = (b) => {
    let v = views.get(b);
    if (v === undefined) views.set(b, v = new DataView(b.buffer, b.byteOffset, b.byteLength));
    return v;
  };
  Object.assign(Buffer.prototype, {
    compare(other) {
      const n1 = Math.min(this.length, other.length);
      for (let i = 0; i < n1; i++) if (this[i] !== other[i]) return this[i] < other[i] ? -1 : 1;
      return this.length === other.length ? 0 : this.length < other.length ? -1 : 1;
    },
    copy(target, targetStart = 0, sourceStart = 0, sourceEnd = this.length) {
      const part = this.subarray(sourceStart, Math.min(sourceEnd, sourceStart + target.length - targetStart));
      target.set(part, targetStart);
      return part.length;
    },
    indexOf(value, from = 0, encoding) {
      const n1 = needle(value, encoding);
      for (let i = Math.max(0, from < 0 ? this.length + from : from); i + n1.length <= this.length; i++) {
        let j = 0;
        while (j < n1.length && this[i + j] === n1[j]) j++;
        if (j === n1.length) return i;
      }
      return -1;
    },
    includes(value, from = 0, encoding) { return this.indexOf(value, from, encoding) !== -1; },
    fill(value, start = 0, end = this.length, encoding) {
      if (typeof start === "string") { encoding = start; start = 0; end = this.length; }
      const pattern = needle(value, encoding);
      if (typeof value === "string" && pattern.length === 0) return Uint8Array.prototype.fill.call(this, 0, start, end);
      if (pattern.length === 0) return this;
      for (let i = start, j = 0; i < end; i++, j = (j + 1) % pattern.length) this[i] = pattern[j];
      return this;
    },
  });
  const numbers = [["UInt8", "Uint8", 1], ["Int8", "Int8", 1], ["UInt16", "Uint16", 2], ["Int16", "Int16", 2],
                   ["UInt32", "Uint32", 4], ["Int32", "Int32", 4], ["Float", "Float32", 4],
                   ["Double", "Float64", 8], ["BigUInt64", "BigUint64", 8], ["BigInt64", "BigInt64", 8]];
  for (const [name, dv, size] of numbers) {
    for (const [suffix, little] of size === 1 ? [["", false]] : [["LE", true], ["BE", false]]) {
      Buffer.prototype[`read${name}${suffix}`] = function (offset = 0) { return view(this)[`get${dv}`](offset, little); };
      Buffer.prototype[`write${name}${suffix}`] = function (value, offset = 0) {
        view(this)[`set${dv}`](offset, value, little);
        return offset + size;
      };
      if (name.startsWith("UInt")) {
        Buffer.prototype[`readUint${name.slice(4)}${suffix}`] = Buffer.prototype[`read${name}${suffix}`];
        Buffer.prototype[`writeUint${name.slice(4)}${suffix}`] = Buffer.prototype[`write${name}${suffix}`];
      }
    }
  }
})
