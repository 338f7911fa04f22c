// Syntax highlighting to HTML with highlight.js's core and one grammar (in place of the
// PDK's shiki example: shiki needs a regex engine beyond es2020 or the oniguruma Wasm).
import hljs from "highlight.js/lib/core";
import javascript from "highlight.js/lib/languages/javascript";

hljs.registerLanguage("javascript", javascript);

export function highlight() {
  const { code, language } = JSON.parse(Host.inputString());
  if (!hljs.getLanguage(language)) {
    throw new Error(`no grammar for ${JSON.stringify(language)}: only javascript is bundled`);
  }
  Host.outputString(hljs.highlight(code, { language }).value);
}
