// http_handler: a `wasmplug serve` HTTP-handler function (docs/serve.md, "HTTP handlers").
// Its `handle` export receives the request as JSON ({"method", "path", "query",
// "headers", "body"}) and answers {"status", "headers", "body"}: here, a text
// greeting that names the method, the path and the query it was given.
import { Host } from "@extism/as-pdk";
// Provides pluginAbort (build.sh: --use abort=src/common/helpers/pluginAbort).
import { outputUtf8, setError } from "./common/helpers";
import { jsonEscape, Scanner } from "./common/json";

// The string member `key` of the JSON object `input` ("" if absent or not a string).
function field(input: Uint8Array, key: string): string {
  const sc = new Scanner(input);
  if (!sc.member(key)) return "";
  const text = sc.text();
  return text === null ? "" : text;
}

export function handle(): i32 {
  const input = Host.input();
  const method = field(input, "method");
  if (method.length == 0) {
    setError("handle expects the request JSON of wasmplug serve");
    return 1;
  }
  const body = "hello from AssemblyScript: " + method + " " + field(input, "path") +
    " ?" + field(input, "query");
  outputUtf8('{"status":200,"headers":{"content-type":"text/plain; charset=utf-8",' +
    '"x-handler":"assemblyscript"},"body":"' + jsonEscape(body) + '"}');
  return 0;
}
