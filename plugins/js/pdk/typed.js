// Typed exports, called by another Wasm module rather than through Extism's call.
function sum3(x, y, z) {
  return x + y + z;
}

function joinTexts(first, second) {
  const joined = Host.find(first).readString() + Host.find(second).readString();
  return Memory.fromString(joined).offset;
}

function viaHost() {
  const { wrap } = Host.getFunctions();
  const reply = Memory.find(wrap(Memory.fromString(Host.inputString()).offset)).readJsonObject();
  Host.outputString(reply.wrapped);
}

module.exports = { sum3, joinTexts, viaHost };
