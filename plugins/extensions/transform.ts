// transform: the extension host design's example extension, in AssemblyScript
// with @extism/as-pdk.
//
//   initialize(config)  -> {"status":"ready"}   (keeps the config's raw JSON)
//   capabilities()      -> transform and info, with JSON schemas
//   transform(params)   -> {"transformed":true,"output":<params.ir>}
//   info()              -> {"name":"transform","language":"assemblyscript",
//                           "config":<config given to initialize>,"level":<config string "level">}
//   shutdown()          -> 0
//
// params.ir is copied through byte for byte: the extension scans the top level
// of the params object for "ir" and never builds a tree.
import { Config, Host } from "@extism/as-pdk";
import { error_set } from "@extism/as-pdk/lib/env";
import { Memory } from "@extism/as-pdk";
// Provides pluginAbort, the abort handler of the AssemblyScript test plug-ins
// (build.sh: --use abort=...common/helpers/pluginAbort).
import "../assemblyscript/src/common/helpers";

let initConfig: Uint8Array = Uint8Array.wrap(String.UTF8.encode("null"));

const CAPABILITIES = `[
 {"name":"transform","description":"Transforms an IR: returns {transformed: true, output: params.ir}",
  "params_schema":{"type":"object","properties":{"ir":{}},"required":["ir"]},
  "return_schema":{"type":"object","properties":{"transformed":{"const":true},"output":{}},
                   "required":["transformed","output"]}},
 {"name":"info","description":"Which extension this is and the configuration it was given"}
]`;

function setError(message: string): void {
  error_set(Memory.allocateString(message).offset);
}

function output(s: string): void {
  Host.output(Uint8Array.wrap(String.UTF8.encode(s)));
}

function isSpace(c: u8): bool {
  return c == 0x20 || c == 0x09 || c == 0x0a || c == 0x0d;
}

function skipSpace(b: Uint8Array, i: i32): i32 {
  while (i < b.length && isSpace(unchecked(b[i]))) i++;
  return i;
}

// Index just past the string starting at b[i] == '"', or -1.
function skipString(b: Uint8Array, i: i32): i32 {
  i++;
  while (i < b.length) {
    const c = unchecked(b[i]);
    if (c == 0x5c) i += 2;
    else if (c == 0x22) return i + 1;
    else i++;
  }
  return -1;
}

// Index just past the JSON value starting at b[i], or -1.
function skipValue(b: Uint8Array, i: i32): i32 {
  if (i >= b.length) return -1;
  const first = unchecked(b[i]);
  if (first == 0x22) return skipString(b, i);
  if (first == 0x7b || first == 0x5b) {
    let depth = 0;
    while (i < b.length) {
      const c = unchecked(b[i]);
      if (c == 0x22) {
        i = skipString(b, i);
        if (i < 0) return -1;
        continue;
      }
      if (c == 0x7b || c == 0x5b) depth++;
      else if (c == 0x7d || c == 0x5d) {
        depth--;
        if (depth == 0) return i + 1;
      }
      i++;
    }
    return -1;
  }
  const start = i;
  while (i < b.length) {
    const c = unchecked(b[i]);
    if (c == 0x2c || c == 0x7d || c == 0x5d || isSpace(c)) break;
    i++;
  }
  return i > start ? i : -1;
}

// [start, end) of the value of top-level key `key` (ASCII) in object `b`; start -1 if absent.
function findKey(b: Uint8Array, key: string, out: StaticArray<i32>): void {
  unchecked((out[0] = -1));
  let i = skipSpace(b, 0);
  if (i >= b.length || unchecked(b[i]) != 0x7b) return;
  i = skipSpace(b, i + 1);
  while (i < b.length && unchecked(b[i]) == 0x22) {
    const keyEnd = skipString(b, i);
    if (keyEnd < 0) return;
    let match = keyEnd - i - 2 == key.length;
    for (let k = 0; match && k < key.length; k++) {
      if (<i32>unchecked(b[i + 1 + k]) != key.charCodeAt(k)) match = false;
    }
    i = skipSpace(b, keyEnd);
    if (i >= b.length || unchecked(b[i]) != 0x3a) return;
    const valueStart = skipSpace(b, i + 1);
    const valueEnd = skipValue(b, valueStart);
    if (valueEnd < 0) return;
    if (match) {
      unchecked((out[0] = valueStart));
      unchecked((out[1] = valueEnd));
      return;
    }
    i = skipSpace(b, valueEnd);
    if (i < b.length && unchecked(b[i]) == 0x2c) i = skipSpace(b, i + 1);
  }
}

const PREFIX = Uint8Array.wrap(String.UTF8.encode('{"transformed":true,"output":'));
const span = new StaticArray<i32>(2);

export function initialize(): i32 {
  initConfig = Host.input();
  output('{"status":"ready"}');
  return 0;
}

export function capabilities(): i32 {
  output(CAPABILITIES);
  return 0;
}

export function transform(): i32 {
  const params = Host.input();
  findKey(params, "ir", span);
  const start = unchecked(span[0]);
  if (start < 0) {
    setError("transform: params must be a JSON object with an \"ir\" field");
    return 1;
  }
  const n = unchecked(span[1]) - start;
  const out = new Uint8Array(PREFIX.length + n + 1);
  memory.copy(out.dataStart, PREFIX.dataStart, PREFIX.length);
  memory.copy(out.dataStart + <usize>PREFIX.length, params.dataStart + <usize>start, n);
  unchecked((out[out.length - 1] = 0x7d));
  Host.output(out);
  return 0;
}

function jsonString(s: string): string {
  let r = '"';
  for (let i = 0; i < s.length; i++) {
    const c = s.charAt(i);
    if (c == '"' || c == "\\") r += "\\" + c;
    else if (s.charCodeAt(i) < 0x20) r += " ";
    else r += c;
  }
  return r + '"';
}

export function info(): i32 {
  const level = Config.get("level");
  output('{"name":"transform","language":"assemblyscript","config":' +
    String.UTF8.decode(initConfig.buffer) + ',"level":' +
    (level === null ? "null" : jsonString(level)) + "}");
  return 0;
}

export function shutdown(): i32 {
  return 0;
}
