// Typed exports and host functions of every value type (wasmplug js build typed.js -i typed.d.ts).
const { add, scale, note, many, greet } = Host.getFunctions();
function add3(a, b, c) { return a + b + c; }
function big(a) { return a * 2n; }
function half(x) { return x / 2; }
function appendString(a, b) {
  a = Memory.find(a).readString(); b = Memory.find(b).readString();
  return Memory.fromString(a + b).offset;
}
function hosts() {
  const r = [add(2, 40), scale(1.5, 2), note(7n), many(...Array.from({length: 20}, (_, i) => i))];
  const m = Memory.fromString("ann");
  r.push(Memory.find(greet(m.offset)).readString());
  Host.outputString(JSON.stringify(r));
}
function wrongCount() {
  try { add(1); } catch (e) { return String(e); }
  return "no error";
}
module.exports = { add3, big, half, appendString, hosts, wrongCount };
