// A small JSON reader and writer for GameBox games written in AssemblyScript.
// Games receive JSON text from the platform and keep their state as JSON in a
// plug-in var; this is all they need (objects, arrays, strings, numbers,
// booleans, null), with no transform or code generation.

export const NULL: i32 = 0;
export const BOOL: i32 = 1;
export const NUMBER: i32 = 2;
export const STRING: i32 = 3;
export const ARRAY: i32 = 4;
export const OBJECT: i32 = 5;

// Scalars share these (never changed: push and set only touch arrays and objects).
const NO_ITEMS = new Array<Json>(0);
const NO_KEYS = new Array<string>(0);
const NO_VALUES = new Map<string, Json>();

export class Json {
  kind: i32;
  bool: bool = false;
  num: f64 = 0;
  str: string = "";
  items: Array<Json>;
  keys: Array<string>;
  values: Map<string, Json>;

  constructor(kind: i32 = NULL) {
    this.kind = kind;
    this.items = kind == ARRAY ? new Array<Json>() : NO_ITEMS;
    this.keys = kind == OBJECT ? new Array<string>() : NO_KEYS;
    this.values = kind == OBJECT ? new Map<string, Json>() : NO_VALUES;
  }

  static str(s: string): Json { const j = new Json(STRING); j.str = s; return j; }
  static num(n: f64): Json { const j = new Json(NUMBER); j.num = n; return j; }
  static bool(b: bool): Json { const j = new Json(BOOL); j.bool = b; return j; }
  static arr(): Json { return new Json(ARRAY); }
  static obj(): Json { return new Json(OBJECT); }

  // Object member, or null when absent (or when this is not an object).
  get(key: string): Json | null {
    if (this.kind != OBJECT || !this.values.has(key)) return null;
    return this.values.get(key);
  }

  // Object member as text: strings as they are, numbers in decimal, else `fallback`.
  getString(key: string, fallback: string = ""): string {
    const v = this.get(key);
    if (v === null) return fallback;
    if (v.kind == STRING) return v.str;
    if (v.kind == NUMBER) return formatNumber(v.num);
    return fallback;
  }

  getNumber(key: string, fallback: f64 = 0): f64 {
    const v = this.get(key);
    if (v === null) return fallback;
    if (v.kind == NUMBER) return v.num;
    if (v.kind == STRING) {
      const n = parseFloat(v.str);
      return isNaN(n) ? fallback : n;
    }
    return fallback;
  }

  getBool(key: string): bool {
    const v = this.get(key);
    return v !== null && v.kind == BOOL && v.bool;
  }

  set(key: string, value: Json): Json {
    if (this.kind != OBJECT) return this;
    if (!this.values.has(key)) this.keys.push(key);
    this.values.set(key, value);
    return this;
  }

  push(value: Json): Json {
    if (this.kind == ARRAY) this.items.push(value);
    return this;
  }

  // Strings of an array member (other items skipped).
  getStrings(key: string): Array<string> {
    const out = new Array<string>();
    const v = this.get(key);
    if (v === null || v.kind != ARRAY) return out;
    for (let i = 0; i < v.items.length; i++) {
      const item = v.items[i];
      if (item.kind == STRING) out.push(item.str);
    }
    return out;
  }

  stringify(): string {
    switch (this.kind) {
      case BOOL: return this.bool ? "true" : "false";
      case NUMBER: return formatNumber(this.num);
      case STRING: return quote(this.str);
      case ARRAY: {
        const parts = new Array<string>();
        for (let i = 0; i < this.items.length; i++) parts.push(this.items[i].stringify());
        return "[" + parts.join(",") + "]";
      }
      case OBJECT: {
        const parts = new Array<string>();
        for (let i = 0; i < this.keys.length; i++) {
          const k = this.keys[i];
          parts.push(quote(k) + ":" + this.values.get(k).stringify());
        }
        return "{" + parts.join(",") + "}";
      }
    }
    return "null";
  }
}

export function stringArray(items: Array<string>): Json {
  const a = Json.arr();
  for (let i = 0; i < items.length; i++) a.push(Json.str(items[i]));
  return a;
}

export function formatNumber(n: f64): string {
  if (isFinite(n) && n == Math.floor(n) && Math.abs(n) < 9.0e15) return (<i64>n).toString();
  if (!isFinite(n)) return "null";
  return n.toString();
}

const HEX = "0123456789abcdef";

export function quote(s: string): string {
  let out = "\"";
  let start = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c == 0x22 || c == 0x5c || c < 0x20) {
      out += s.substring(start, i);
      if (c == 0x22) out += "\\\"";
      else if (c == 0x5c) out += "\\\\";
      else if (c == 0x0a) out += "\\n";
      else if (c == 0x0d) out += "\\r";
      else if (c == 0x09) out += "\\t";
      else out += "\\u00" + HEX.charAt(c >> 4) + HEX.charAt(c & 15);
      start = i + 1;
    }
  }
  return out + s.substring(start) + "\"";
}

// Parses JSON text; null if it is not valid JSON.
export function parse(text: string): Json | null {
  const p = new Parser(text);
  p.ws();
  const v = p.value();
  if (v === null) return null;
  p.ws();
  return p.pos == text.length ? v : null;
}

class Parser {
  pos: i32 = 0;
  constructor(public text: string) {}

  ws(): void {
    while (this.pos < this.text.length) {
      const c = this.text.charCodeAt(this.pos);
      if (c != 0x20 && c != 0x0a && c != 0x0d && c != 0x09) break;
      this.pos++;
    }
  }

  value(): Json | null {
    if (this.pos >= this.text.length) return null;
    const c = this.text.charCodeAt(this.pos);
    if (c == 0x7b) return this.object();
    if (c == 0x5b) return this.array();
    if (c == 0x22) {
      const s = this.string();
      return s === null ? null : Json.str(s);
    }
    if (this.text.startsWith("true", this.pos)) { this.pos += 4; return Json.bool(true); }
    if (this.text.startsWith("false", this.pos)) { this.pos += 5; return Json.bool(false); }
    if (this.text.startsWith("null", this.pos)) { this.pos += 4; return new Json(); }
    return this.number();
  }

  object(): Json | null {
    const o = Json.obj();
    this.pos++;
    this.ws();
    if (this.pos < this.text.length && this.text.charCodeAt(this.pos) == 0x7d) { this.pos++; return o; }
    while (true) {
      this.ws();
      if (this.pos >= this.text.length || this.text.charCodeAt(this.pos) != 0x22) return null;
      const k = this.string();
      if (k === null) return null;
      this.ws();
      if (this.pos >= this.text.length || this.text.charCodeAt(this.pos) != 0x3a) return null;
      this.pos++;
      this.ws();
      const v = this.value();
      if (v === null) return null;
      o.set(k, v);
      this.ws();
      if (this.pos >= this.text.length) return null;
      const c = this.text.charCodeAt(this.pos++);
      if (c == 0x7d) return o;
      if (c != 0x2c) return null;
    }
  }

  array(): Json | null {
    const a = Json.arr();
    this.pos++;
    this.ws();
    if (this.pos < this.text.length && this.text.charCodeAt(this.pos) == 0x5d) { this.pos++; return a; }
    while (true) {
      this.ws();
      const v = this.value();
      if (v === null) return null;
      a.push(v);
      this.ws();
      if (this.pos >= this.text.length) return null;
      const c = this.text.charCodeAt(this.pos++);
      if (c == 0x5d) return a;
      if (c != 0x2c) return null;
    }
  }

  string(): string | null {
    this.pos++; // opening quote
    let out = "";
    let start = this.pos;
    while (this.pos < this.text.length) {
      const c = this.text.charCodeAt(this.pos);
      if (c == 0x22) {
        out += this.text.substring(start, this.pos);
        this.pos++;
        return out;
      }
      if (c == 0x5c) {
        out += this.text.substring(start, this.pos);
        if (this.pos + 1 >= this.text.length) return null;
        const e = this.text.charCodeAt(this.pos + 1);
        this.pos += 2;
        if (e == 0x6e) out += "\n";
        else if (e == 0x74) out += "\t";
        else if (e == 0x72) out += "\r";
        else if (e == 0x62) out += "\b";
        else if (e == 0x66) out += "\f";
        else if (e == 0x75) {
          if (this.pos + 4 > this.text.length) return null;
          const code = I32.parseInt(this.text.substr(this.pos, 4), 16);
          out += String.fromCharCode(code);
          this.pos += 4;
        } else out += String.fromCharCode(e);
        start = this.pos;
        continue;
      }
      this.pos++;
    }
    return null;
  }

  number(): Json | null {
    const start = this.pos;
    while (this.pos < this.text.length) {
      const c = this.text.charCodeAt(this.pos);
      if ((c >= 0x30 && c <= 0x39) || c == 0x2d || c == 0x2b || c == 0x2e || c == 0x65 || c == 0x45) this.pos++;
      else break;
    }
    if (this.pos == start) return null;
    const n = parseFloat(this.text.substring(start, this.pos));
    return isNaN(n) ? null : Json.num(n);
  }
}
