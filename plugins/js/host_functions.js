// Calls host functions the JS PDK way: declared at build time
// (`wasmplug js build host_functions.js --host-function greet --host-function lookup`),
// reached through Host.getFunctions(), passing and returning memory offsets.
const { greet, lookup } = Host.getFunctions();

function hello() {
  const name = Memory.fromString(Host.inputString());
  const answer = Memory.find(greet(name.offset));
  const text = answer.readString();
  answer.free();
  name.free();
  Host.outputString(text);
}

function query() {
  const request = Memory.fromJsonObject({ key: Host.inputString() });
  const found = Memory.find(lookup(request.offset)).readJsonObject();
  Host.outputString(JSON.stringify({ found, bytes: Memory.fromString("é").len }));
}

function undeclared() {
  Host.getFunctions().missing(0);
}

module.exports = { hello, query, undeclared };
