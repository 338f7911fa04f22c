// Failing in the ways a plug-in can: a thrown Error, a thrown non-Error, a
// return code, a rejected promise, and a TypeError from a bug.
export function throws() {
  throw new Error("the plug-in refused: " + Host.inputString());
}

export function throws_string() {
  throw "plain string";
}

export function return_code() {
  return 42;
}

export async function rejects() {
  await null;
  throw new RangeError("async failure");
}

export function bug() {
  const missing = undefined;
  return missing.property;
}

export function ok() {
  return "still fine";
}
