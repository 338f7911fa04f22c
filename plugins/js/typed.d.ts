// The interface of typed.js: exports and host functions with I32/I64/F32/F64/void signatures.
declare module 'main' {
  export function add3(a: I32, b: I32, c: I32): I32;
  export function big(a: I64): I64;
  export function half(x: F64): F32;
  export function appendString(a: I64, b: I64): string;
  export function hosts(): I32;
  export function wrongCount(): I32;
}
declare module 'extism:host/user' {
  interface user {
    add(a: I32, b: I32): I32;
    scale(x: F32, y: F64): F64;
    note(x: I64): void;
    many(a0: I32, a1: I32, a2: I32, a3: I32, a4: I32, a5: I32, a6: I32, a7: I32, a8: I32, a9: I32, a10: I32, a11: I32, a12: I32, a13: I32, a14: I32, a15: I32, a16: I32, a17: I32, a18: I32, a19: I32): I64;
    greet(p: PTR): PTR;
  }
}
