// A game that fails on demand (test only): the event's name says how.
//   crash    -> handle_event traps (unreachable)
//   loop     -> handle_event never returns (the 1 s limit stops it)
//   memory   -> handle_event allocates without bound (the memory limit stops it)
//   garbage  -> handle_event returns text that is not JSON
//   noversion -> handle_event returns an object without a version
//   badrender -> every later render traps
// get_constraints returns malformed JSON, so the platform falls back to 2..2.

import { Var } from "@extism/as-pdk";
import { assigns, escape, input, output, setError } from "../../../src/wasmplug/gamebox/games/lib/game";

export function get_constraints(): i32 {
  output("{min_players: lots");
  return 0;
}

export function init_game(): i32 {
  Var.remove("badrender");
  Var.set("version", Uint8Array.wrap(String.UTF8.encode("0")));
  return 0;
}

let hoard = new Array<Uint8Array>();

export function handle_event(): i32 {
  const name = input().getString("event_name");
  if (name == "crash") {
    setError("the failing game crashed on purpose");
    unreachable();
  }
  if (name == "loop") {
    let n: i64 = 0;
    while (n >= 0) n++;
  }
  if (name == "memory") {
    while (true) hoard.push(new Uint8Array(1 << 20));
  }
  if (name == "garbage") { output("this is not json"); return 0; }
  if (name == "noversion") { output("{\"score\": 1}"); return 0; }
  if (name == "badrender") Var.set("badrender", Uint8Array.wrap(String.UTF8.encode("1")));
  const version = parseInt(Var.getString("version")!) + 1;
  Var.set("version", Uint8Array.wrap(String.UTF8.encode(version.toString())));
  output(assigns(version).stringify());
  return 0;
}

export function render(): i32 {
  if (Var.getString("badrender") !== null) {
    setError("render failed on purpose");
    unreachable();
  }
  const v = Var.getString("version");
  let html = "<p class=\"failing\">Version " + escape(v === null ? "?" : v) + "</p>";
  const events: StaticArray<string> = ["crash", "loop", "memory", "garbage", "noversion", "badrender", "ok"];
  for (let i = 0; i < events.length; i++) {
    html += "<button class=\"" + events[i] + "\" phx-click=\"" + events[i] + "\">" + events[i] + "</button>";
  }
  output(html);
  return 0;
}
