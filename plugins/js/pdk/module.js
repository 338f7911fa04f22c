// An ES module: text goes through TextEncoder and back through TextDecoder.
export function shout() {
  const bytes = new TextEncoder().encode(Host.inputString().toUpperCase());
  const text = new TextDecoder().decode(bytes);
  Host.outputString(`${text}! (${bytes.length} bytes)`);
}
