declare module 'main' {
  export function run(): I32;
}

// the module name the PDK's host_funcs example uses
declare module 'extism:host/user' {
  interface user {
    describe(ptr: I64): I64;
    decorate(ptr: I64): I64;
  }
}
