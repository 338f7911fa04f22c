// The Buffer encodings and argument forms of the JS PDK's Buffer beyond the basics.
export function run() {
  const text = Host.inputString();
  const out = {};
  out.utf16le = Buffer.from(text, "utf16le").toString("hex");
  out.ucs2Back = Buffer.from(Buffer.from(text, "ucs2").toString("hex"), "hex").toString("utf-16le");
  out.ascii = Buffer.from([0x48, 0xe9, 0x6c]).toString("ascii");
  out.byteLength16 = Buffer.byteLength(text, "utf16le");
  out.isEncoding = ["UCS-2", "utf16le", "binary", "nope"].map((e) => Buffer.isEncoding(e));
  out.allocPattern = Buffer.alloc(7, "ab").toString();
  out.allocHex = Buffer.alloc(4, "0a0b", "hex").toString("hex");
  const w = Buffer.alloc(8, ".");
  out.writeHex = [w.write("6869", 2, "hex"), w.toString()];
  const w2 = Buffer.alloc(6, "-");
  out.writeLength = [w2.write("abcdef", 1, 2), w2.toString()];
  out.writeEncodingOnly = [Buffer.alloc(4).write("ffff", "hex")];
  out.indexOfHex = Buffer.from("hello world").indexOf("6f20", 0, "hex");
  out.fillEncoding = Buffer.alloc(4).fill("aa", "hex").toString("hex");
  try { Buffer.from("x").toString("klingon"); out.unknown = "no error"; } catch (e) { out.unknown = String(e); }
  return out;
}
