// CommonJS whose text looks like a module to a line-based reader: `export`
// and `import` at the start of lines inside a comment and a template literal.
/*
export function notReal() {}
*/
const template = `
export default "not a module either"
import nothing from "nowhere"
`;
module.exports = {
  shout() {
    Host.outputString(template.trim().split("\n")[0].toUpperCase());
  },
};
