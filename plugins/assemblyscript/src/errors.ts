// errors: the ways a plug-in call can fail.
import { Host } from "@extism/as-pdk";
import { outputUtf8, setError, setErrorBytes } from "./common/helpers";

// Sets the plug-in error to the input text and returns 1.
export function fail_with_message(): i32 {
  setErrorBytes(Host.input());
  return 1;
}

// Returns the i32 parsed from the (decimal) input without setting an error.
// Input that is not a decimal i32 sets an error and returns 1.
export function fail_code(): i32 {
  const s = Host.inputString().trim();
  let i = 0;
  let neg = false;
  if (s.length > 0 && (s.charCodeAt(0) == 0x2d || s.charCodeAt(0) == 0x2b)) {
    neg = s.charCodeAt(0) == 0x2d;
    i = 1;
  }
  if (i >= s.length) {
    setError("fail_code: input is not a decimal i32: '" + s + "'");
    return 1;
  }
  let v: i64 = 0;
  for (; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x30 || c > 0x39) {
      setError("fail_code: input is not a decimal i32: '" + s + "'");
      return 1;
    }
    v = v * 10 + <i64>(c - 0x30);
    if (v > 2147483648) {
      setError("fail_code: input is out of i32 range: '" + s + "'");
      return 1;
    }
  }
  if (neg) v = -v;
  if (v > 2147483647) {
    setError("fail_code: input is out of i32 range: '" + s + "'");
    return 1;
  }
  return <i32>v;
}

// Sets an error but returns 0.
export function error_but_zero(): i32 {
  setError("set but returned 0");
  return 0;
}

// Calls AssemblyScript's abort(), which build.sh routes to
// common/helpers.ts pluginAbort (sets the error, then traps).
export function abort_now(): i32 {
  abort("boom");
  return 0;
}

// Outputs "ok".
export function ok(): i32 {
  outputUtf8("ok");
  return 0;
}
