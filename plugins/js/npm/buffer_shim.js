// `require("buffer")` of an npm package, answered by the runtime's global Buffer (the PDK's buffer_npm way).
module.exports = { Buffer: globalThis.Buffer };
