// transform, in JavaScript (the JS PDK style): the extension host design's
// example extension, the same contract as transform.ts. Loaded straight from
// TOML with [extensions.source] type = "js", path = "transform.js": the host
// builds it with wasmplug's JavaScript runtime (no compiler, no .wasm file).
//
//   initialize(config)  -> {"status":"ready"}   (keeps the config)
//   capabilities()      -> transform and info, with JSON schemas
//   transform(params)   -> {"transformed":true,"output":<params.ir>}
//   info()              -> {"name":"transform","language":"javascript",
//                           "config":<config given to initialize>,"level":<config string "level">}
//   shutdown()          -> 0
//
// A thrown Error fails the call with its message (the host reports it).

const CAPABILITIES = [
  {
    name: "transform",
    description: "Transforms an IR: returns {transformed: true, output: params.ir}",
    params_schema: { type: "object", properties: { ir: {} }, required: ["ir"] },
    return_schema: {
      type: "object",
      properties: { transformed: { const: true }, output: {} },
      required: ["transformed", "output"],
    },
  },
  { name: "info", description: "Which extension this is and the configuration it was given" },
];

function initialize() {
  Var.set("config", Host.inputString() || "null");
  Host.outputString(JSON.stringify({ status: "ready" }));
}

function capabilities() {
  Host.outputString(JSON.stringify(CAPABILITIES));
}

function transform() {
  const params = JSON.parse(Host.inputString());
  if (params === null || typeof params !== "object" || !("ir" in params)) {
    throw new Error('transform: params must be a JSON object with an "ir" field');
  }
  Host.outputString(JSON.stringify({ transformed: true, output: params.ir }));
}

function info() {
  Host.outputString(JSON.stringify({
    name: "transform",
    language: "javascript",
    config: JSON.parse(Var.getString("config") || "null"),
    level: Config.get("level"),
  }));
}

function shutdown() {
  return 0;
}

module.exports = { initialize, capabilities, transform, info, shutdown };
