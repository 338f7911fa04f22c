// ATTACK: deep native recursion from small inputs: nested JSON, nested
// parentheses and object literals through eval, nested regular expressions,
// nested blocks. EXPECTED: a catchable RangeError/InternalError in JS (never a
// trap), sensible depths still work, and the plug-in's globals survive.
let calls = 0;

function attempt(make) {
  try {
    make();
    return "ok";
  } catch (e) {
    return `caught ${e.name}: ${e.message}`;
  }
}

const KINDS = {
  json: (n) => JSON.parse("[".repeat(n) + "]".repeat(n)),
  stringify: (n) => {
    let v = [];
    for (let i = 0; i < n; i++) v = [v];
    return JSON.stringify(v);
  },
  parens: (n) => eval("(".repeat(n) + "1" + ")".repeat(n)),
  objects: (n) => eval("(" + "{a:".repeat(n) + "1" + "}".repeat(n) + ")"),
  arrays: (n) => eval("[".repeat(n) + "]".repeat(n)),
  blocks: (n) => eval("{".repeat(n) + "}".repeat(n)),
  regexp: (n) => new RegExp("(?:".repeat(n) + "a" + ")".repeat(n)).test("a"),
  calls: (n) => {
    const down = (k) => (k ? down(k - 1) + 1 : 0);
    return down(n);
  },
  callbacks: (n) => {
    const down = (k) => (k ? [k].map((x) => down(x - 1))[0] : 0);
    return down(n);
  },
};

// input: "kind depth"; output: "ok" or "caught <name>: <message>", and the call count
export function nest() {
  calls += 1;
  const [kind, depth] = Host.inputString().split(" ");
  Host.outputString(JSON.stringify({ result: attempt(() => KINDS[kind](Number(depth))), calls }));
}
