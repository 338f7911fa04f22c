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
    countReset(label = "default") { counts.delete(label); },
    time(label = "default") { timers.set(label, g.performance.now()); },
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
  class DOMException extends Error {
    constructor(message = "", name = "Error") { super(message); this.name = name; }
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
})
