// host_env: config, vars and logging through @extism/as-pdk.
import { Config, Host, LogLevel, Memory, Var } from "@extism/as-pdk";
import { outputUtf8, readU64Var, setError, u64Bytes, utf8Slice } from "./common/helpers";

function indexOfByte(bytes: Uint8Array, b: u8): i32 {
  const ptr = bytes.dataStart;
  const n = bytes.length;
  for (let i = 0; i < n; i++) {
    if (load<u8>(ptr + <usize>i) == b) return i;
  }
  return -1;
}

// input = config key; output = its value, or empty if missing.
export function config_get(): i32 {
  const key = Host.inputString();
  const mem = Config.getMemory(key);
  if (mem !== null) Host.outputMemory(mem);
  return 0;
}

// input = var name; output = the var's bytes, or empty if missing.
export function var_get(): i32 {
  const name = Host.inputString();
  const mem = Var.getMemory(name);
  if (mem !== null) Host.outputMemory(mem);
  return 0;
}

// input = "name=value" (split at the first '='); an empty value removes the
// var. Without '=' the call fails.
export function var_set(): i32 {
  const input = Host.input();
  const eq = indexOfByte(input, 0x3d /* = */);
  if (eq < 0) {
    setError("var_set: expected input name=value");
    return 1;
  }
  const name = utf8Slice(input, 0, eq);
  const value = input.subarray(eq + 1);
  if (value.length == 0) Var.remove(name);
  else Var.set(name, value);
  return 0;
}

// Increments var `count` (u64 LE, absent = 0) and outputs the new value.
export function counter(): i32 {
  const prev = new StaticArray<u64>(1);
  if (!readU64Var(Var.get("count"), "count", prev)) return 1;
  const next = unchecked(prev[0]) + 1;
  Var.set("count", u64Bytes(next));
  outputUtf8(next.toString());
  return 0;
}

// input = "level:message", level one of debug|info|warn|error.
// as-pdk 1.0.0 has no trace level (LogLevel is Info, Warn, Debug, Error), so
// "trace" fails like any unknown level.
export function log(): i32 {
  const input = Host.input();
  const colon = indexOfByte(input, 0x3a /* : */);
  if (colon < 0) {
    setError("log: expected input level:message");
    return 1;
  }
  const level = utf8Slice(input, 0, colon);
  let lv: LogLevel;
  if (level == "debug") lv = LogLevel.Debug;
  else if (level == "info") lv = LogLevel.Info;
  else if (level == "warn") lv = LogLevel.Warn;
  else if (level == "error") lv = LogLevel.Error;
  else {
    setError("log: unsupported level '" + level + "' (as-pdk 1.0.0 supports debug, info, warn, error)");
    return 1;
  }
  Host.logMemory(lv, Memory.allocateBytes(input.subarray(colon + 1)));
  return 0;
}
