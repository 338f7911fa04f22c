// Config, Var (strings, bytes, delete), console logging and TextEncoder/Decoder.
module.exports = {
  greet() {
    const name = Config.get("name");
    Host.outputString(name === null ? "no name configured" : `Hello, ${name}!`);
  },
  count() {
    const n = Number(Var.getString("n") || "0") + 1;
    Var.set("n", String(n));
    return String(n);
  },
  bytes() {
    const input = new Uint8Array(Host.inputBytes());
    Var.set("raw", input.map((b) => 255 - b));
    const back = new Uint8Array(Var.getBytes("raw"));
    Host.outputBytes(back.buffer);
  },
  forget() {
    Var.delete("n");
    return JSON.stringify({ n: Var.getString("n") });
  },
  log() {
    console.debug("debug line");
    console.log("info line", { a: 1 });
    console.warn("warn line");
    console.error("error line");
  },
  text() {
    const encoded = new TextEncoder().encode(Host.inputString());
    const decoded = new TextDecoder().decode(encoded);
    return JSON.stringify({ bytes: encoded.length, same: decoded === Host.inputString(),
      b64: Host.arrayBufferToBase64(encoded.buffer) });
  },
};
