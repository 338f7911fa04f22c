// ATTACK: fill the memory budget (memory.max_pages), with and without catching.
// EXPECTED: the JS heap limit follows the budget by itself: a hog gets a
// catchable "InternalError: out of memory" (after at most one `oom` call when
// the host did not tell the runtime the budget), most of the budget is usable,
// and the plug-in stays usable.
let calls = 0;

function fill(keep) {
  for (;;) keep.push("x".repeat(1 << 16) + keep.length);
}

export function hog() {
  calls += 1;
  fill([]);
}

export function hog_caught() {
  calls += 1;
  const keep = [];
  try {
    fill(keep);
  } catch (e) {
    const held = keep.length * 65536;
    keep.length = 0;
    return JSON.stringify({ error: String(e), held, calls });
  }
}

export function ok() {
  calls += 1;
  return JSON.stringify({ ok: true, calls });
}

export function hog_then_throw() {
  calls += 1;
  const keep = [];
  try {
    fill(keep);
  } catch (e) {
    keep.length = 0;
  }
  throw new Error("thrown after the hog");
}
