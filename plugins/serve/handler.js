// A `wasmplug serve` HTTP-handler function in JavaScript (docs/serve.md, "HTTP handlers").
// Deploy: wasmplug deploy hello plugins/serve/handler.js --route /hello --public
// GET /hello/NAME?greeting=hi answers JSON; POST /hello echoes the body back.
function handle() {
  const request = JSON.parse(Host.inputString());
  if (request.method === "POST") {
    Host.outputString(JSON.stringify({
      status: 201,
      headers: { "content-type": "text/plain" },
      body: "you sent: " + (request.body || ""),
    }));
    return;
  }
  const name = request.path.split("/").slice(2).join("/") || "world";
  const greeting = new URLSearchParams(request.query).get("greeting") || "hello";
  Host.outputString(JSON.stringify({
    status: 200,
    headers: { "content-type": "application/json", "x-handler": "javascript" },
    body: JSON.stringify({ message: greeting + ", " + name, agent: request.headers["user-agent"] || "" }),
  }));
}

module.exports = { handle };
