// chatgpt: asks an OpenAI-compatible chat-completions API through the
// Extism host's HTTP function.
//
// Config: `open_ai_key` (required), `base_url` (default
// https://api.openai.com/v1), `model` (default gpt-4o-mini).
// Input: the prompt, sent as one user message.
// Output: the first choice's message text.
// Errors: a non-2xx answer fails the call with
// "call_chat_gpt: the API answered <status>: <error.message or body>".
// The host must allow the API's host (allowed_hosts), or the request is refused.
import { Config, Host, Memory } from "@extism/as-pdk";
import { http_request, length } from "@extism/as-pdk/lib/env";
import { outputUtf8, setError } from "./common/helpers";
import { jsonEscape, Scanner } from "./common/json";

@external("extism:host/env", "http_status_code")
declare function http_status_code(): i32;

const DEFAULT_BASE_URL = "https://api.openai.com/v1";
const DEFAULT_MODEL = "gpt-4o-mini";

function shorten(text: string): string {
  const t = text.trim();
  return t.length > 300 ? t.substring(0, 300) + "..." : t;
}

// error.message of an OpenAI-style error body, else the body itself.
function apiMessage(body: Uint8Array, text: string): string {
  const sc = new Scanner(body);
  if (sc.member("error")) {
    if (sc.peek() == 0x22) {
      const direct = sc.text();
      if (direct !== null) return direct;
    } else if (sc.member("message")) {
      const message = sc.text();
      if (message !== null) return message;
    }
  }
  return text.length > 0 ? shorten(text) : "(empty body)";
}

// choices[0].message.content, or null.
function firstMessage(body: Uint8Array): string | null {
  const sc = new Scanner(body);
  if (!sc.member("choices") || !sc.first() || !sc.member("message") || !sc.member("content")) {
    return null;
  }
  return sc.text();
}

export function call_chat_gpt(): i32 {
  const key = Config.get("open_ai_key");
  if (key === null) {
    setError("call_chat_gpt: config 'open_ai_key' is missing: pass the API key in the config " +
      "(e.g. --set-config '{\"open_ai_key\": \"...\"}')");
    return 1;
  }
  let base = Config.get("base_url");
  if (base === null) base = DEFAULT_BASE_URL;
  while (base.endsWith("/")) base = base.substring(0, base.length - 1);
  let model = Config.get("model");
  if (model === null) model = DEFAULT_MODEL;
  const prompt = Host.inputString();
  if (prompt.trim().length == 0) {
    setError("call_chat_gpt: the input is empty: pass the prompt as the input");
    return 1;
  }

  const request = '{"url":"' + jsonEscape(base + "/chat/completions") + '","method":"POST",' +
    '"headers":{"Content-Type":"application/json","Authorization":"Bearer ' + jsonEscape(key) + '"}}';
  const body = '{"model":"' + jsonEscape(model) + '","messages":[{"role":"user","content":"' +
    jsonEscape(prompt) + '"}]}';
  const resOffset = http_request(Memory.allocateString(request).offset,
    Memory.allocateString(body).offset);
  const status = http_status_code();
  let bytes = new Uint8Array(0);
  if (resOffset != 0) bytes = new Memory(resOffset, length(resOffset)).toUint8Array();
  const text = String.UTF8.decode(bytes.buffer);

  if (status < 200 || status >= 300) {
    setError("call_chat_gpt: the API answered " + status.toString() + ": " + apiMessage(bytes, text));
    return 1;
  }
  const message = firstMessage(bytes);
  if (message === null) {
    setError("call_chat_gpt: the API's answer has no choices[0].message.content: " + shorten(text));
    return 1;
  }
  outputUtf8(message);
  return 0;
}
