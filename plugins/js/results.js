// What a function's result and a thrown value become (the JS PDK's rules):
// true/false/undefined are success, a number is the return code; a thrown
// non-Error is reported as JSON where it can be.
export function returns_true() {
  return Host.outputString("hi");
}

export function returns_false() {
  Host.outputString("still fine");
  return false;
}

export function returns_undefined() {
  Host.outputString("nothing returned");
}

export function returns_code() {
  Host.outputString("partial");
  return 3;
}

export function throws_object() {
  throw { code: 7, why: "no" };
}

export function throws_string() {
  throw "plain words";
}

export function throws_hostile() {
  throw {
    toString() { throw new Error("toString refuses"); },
    toJSON() { throw new Error("toJSON refuses"); },
  };
}

export function throws_cyclic() {
  const value = { name: "cyclic" };
  value.self = value;
  throw value;
}

export function throws_error_with_hostile_to_string() {
  const error = new TypeError("the real message");
  error.toString = () => { throw new Error("no"); };
  throw error;
}

export function ok() {
  return "ok";
}
