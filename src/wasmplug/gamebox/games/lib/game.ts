// What every GameBox game in AssemblyScript needs: JSON in, JSON or HTML out,
// state kept as JSON in a plug-in var, handle_event's answers (reply, moved),
// HTML escaping, and an abort handler that reports its message as the Extism error.

import { Host, Memory, Var } from "@extism/as-pdk";
import { error_set } from "@extism/as-pdk/lib/env";
import { Json, parse } from "./json";

export function setError(message: string): void {
  error_set(Memory.allocateString(message).offset);
}

// Built with --use abort=<this file>/gameAbort: no env.abort import, and an
// abort (a failed assertion, a bad index) becomes a clear error, then a trap.
export function gameAbort(message: string | null = null, fileName: string | null = null,
                          lineNumber: u32 = 0, columnNumber: u32 = 0): void {
  let text = "abort: " + (message === null ? "(no message)" : message);
  if (fileName !== null) text += " at " + fileName + ":" + lineNumber.toString() + ":" + columnNumber.toString();
  setError(text);
  unreachable();
}

// The call's input parsed as JSON (an empty object when it is not JSON).
export function input(): Json {
  const v = parse(Host.inputString());
  return v === null ? Json.obj() : v;
}

// Outputs text as UTF-8 (as-pdk's outputString counts UTF-16 units, not bytes).
export function output(text: string): void {
  const bytes = Uint8Array.wrap(String.UTF8.encode(text));
  if (bytes.length > 0) Host.output(bytes);
}

export function loadState(): Json {
  const text = Var.getString("state");
  if (text === null) return Json.obj();
  const v = parse(text);
  return v === null ? Json.obj() : v;
}

export function saveState(state: Json): void {
  Var.set("state", Uint8Array.wrap(String.UTF8.encode(state.stringify())));
}

// The assigns handle_event returns: at least the version.
export function assigns(version: f64): Json {
  return Json.obj().set("version", Json.num(version));
}

// handle_event's answer that changes nothing (a refused move, a spectator's
// click): the same version, and a notice for the player. Returns the export's 0.
export function reply(version: f64, notice: string): i32 {
  output(assigns(version).set("notice", Json.str(notice)).stringify());
  return 0;
}

// handle_event's answer after a move: the state is saved with its next version,
// which is announced with an empty notice. Returns the export's 0.
export function moved(state: Json): i32 {
  const version = state.getNumber("version") + 1;
  state.set("version", Json.num(version));
  saveState(state);
  return reply(version, "");
}

export function constraints(min: i32, max: i32): void {
  output("{\"min_players\":" + min.toString() + ",\"max_players\":" + max.toString() + "}");
}

export function escape(s: string): string {
  let out = "";
  let start = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    let rep = "";
    if (c == 0x26) rep = "&amp;";
    else if (c == 0x3c) rep = "&lt;";
    else if (c == 0x3e) rep = "&gt;";
    else if (c == 0x22) rep = "&quot;";
    else if (c == 0x27) rep = "&#39;";
    else continue;
    out += s.substring(start, i) + rep;
    start = i + 1;
  }
  return out + s.substring(start);
}

export function indexOf(items: Array<string>, item: string): i32 {
  for (let i = 0; i < items.length; i++) if (items[i] == item) return i;
  return -1;
}
