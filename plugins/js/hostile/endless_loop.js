// ATTACK: loop forever (plain, and inside a caught exception handler).
// EXPECTED: CallTimeout at timeout_ms; `ok` still works afterwards.
export function spin() {
  for (;;) {}
}

export function spin_catching() {
  for (;;) {
    try { for (;;) {} } catch (e) { /* swallow anything */ }
  }
}

export function ok() {
  return "ok";
}
