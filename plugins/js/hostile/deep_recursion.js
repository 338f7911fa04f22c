// ATTACK: unbounded recursion, direct and through JSON.stringify of a deep object.
// EXPECTED: a JS error ("stack overflow"), not a host crash; `ok` still works.
function down(n) {
  return down(n + 1) + 1;
}

export function recurse() {
  return down(0);
}

export function deep_json() {
  let value = {};
  for (let i = 0; i < 1000000; i++) value = { next: value };
  return JSON.stringify(value).length;
}

export function ok() {
  return "ok";
}
