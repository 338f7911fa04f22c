// The interface of host_functions.js, as extism-js reads it (`-i host_functions.d.ts`);
// `wasmplug js build host_functions.js -i host_functions.d.ts` reads it too.
declare module "main" {
  export function hello(): I32;
  export function query(): I32;
  export function undeclared(): I32;
}

declare module "extism:host" {
  interface user {
    greet(ptr: I64): I64; // the name in, the greeting out
    lookup(ptr: PTR): PTR;
  }
}
