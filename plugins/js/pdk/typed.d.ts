declare module 'main' {
  export function sum3(x: I32, y: I32, z: I32): I32;
  export function joinTexts(first: I64, second: I64): string;
  export function viaHost(): I32;
}

declare module 'extism:host' {
  interface user {
    wrap(text: string): {wrapped: string};
  }
}
