// ATTACK: look for ways out of the sandbox: eval, Function, the C library
// modules of QuickJS (std, os), require, import(), process, WebAssembly.
// EXPECTED: none of them gives file, process or network access: the report
// lists what exists, and the host checks nothing dangerous is there (fetch
// exists, as in the JS PDK, and goes through the host: allowed_hosts applies).
export function probe() {
  const found = {};
  found.eval = typeof eval;
  found.std = typeof globalThis.std;
  found.os = typeof globalThis.os;
  found.require = typeof globalThis.require;
  found.process = typeof globalThis.process;
  found.WebAssembly = typeof globalThis.WebAssembly;
  found.fetch = typeof globalThis.fetch;
  let imported = "none";
  import("os").then(() => { imported = "loaded"; }, (e) => { imported = String(e); });
  return JSON.stringify(found);
}

export function ok() {
  return "ok";
}
