// ATTACK: allocate without bound (arrays of strings, then one huge buffer).
// EXPECTED: under memory.max_pages, a JS "out of memory" error; `ok` still works.
export function hog() {
  const keep = [];
  for (;;) keep.push("x".repeat(1 << 16) + keep.length);
}

export function huge_buffer() {
  return new ArrayBuffer(1 << 30).byteLength;
}

export function ok() {
  return "ok";
}
