// CommonJS: greet reads its input as text and writes a greeting.
function greet() {
  const who = Host.inputString();
  Host.outputString("Hello, " + who);
}
module.exports = { greet };
