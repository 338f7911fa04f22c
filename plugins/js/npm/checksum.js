// An npm package that checksums Buffers (buffer-crc32) next to `require("buffer")`, the shape of
// the PDK's `buffer_npm` example. Bundled twice: with "buffer" answered by the runtime's global
// Buffer (buffer_shim.js, the PDK's way) and with the npm `buffer` package itself.
const { Buffer } = require("buffer");
const crc32 = require("buffer-crc32");

function checksum() {
  const text = Host.inputString();
  const bytes = Buffer.from(text, "utf8");
  const fromString = crc32.unsigned(text);
  const digest = crc32(text); // a Buffer of the runtime's global class, which buffer-crc32 uses
  const word = Buffer.from(digest);
  Host.outputString(JSON.stringify({
    unsigned: fromString,
    same: fromString === crc32.unsigned(globalThis.Buffer.from(bytes)),
    bytes: bytes.length,
    hex: word.toString("hex"),
    be: word.readUInt32BE(0),
    base64: bytes.toString("base64"),
  }));
}

module.exports = { checksum };
