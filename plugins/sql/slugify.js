// slugify: a SQL scalar example in JavaScript (built with `wasmplug js build`).
// Input: a TEXT value's UTF-8 bytes. Output: lower-case ASCII words joined by "-"
// ("Crème Brûlée, 2 ways!" -> "creme-brulee-2-ways"). Register it with returns TEXT.
export function slugify() {
  const text = Host.inputString();
  const slug = text
    .normalize("NFKD")
    .replace(/[\u0300-\u036f]/g, "")
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "");
  Host.outputString(slug);
}
