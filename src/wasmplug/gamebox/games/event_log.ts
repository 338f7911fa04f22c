// The seed's event-log test game: every event is appended to a log and bumps
// the version; the page shows the version, who you are, a button and the log
// (newest first). Useful to see exactly what the platform sends a game.
// State: vars "version" and "count" (decimal) and "events" (the newest
// events' JSON, one per line), so no call parses more than it shows.

import { Var } from "@extism/as-pdk";
import { Host } from "@extism/as-pdk";
import { assigns, constraints, escape, input, output } from "./lib/game";

const KEEP = 20; // events kept (and shown)

export function get_constraints(): i32 {
  constraints(2, 2);
  return 0;
}

function getVar(name: string): string {
  const value = Var.getString(name);
  return value === null ? "" : value;
}

function setVar(name: string, value: string): void {
  Var.set(name, Uint8Array.wrap(String.UTF8.encode(value)));
}

function getNumber(name: string): i64 {
  const text = getVar(name);
  return text == "" ? 0 : I64.parseInt(text);
}

export function init_game(): i32 {
  input(); // {"player_ids": [...]}: every event says who sent it
  setVar("version", "0");
  setVar("count", "0");
  Var.remove("events");
  return 0;
}

export function handle_event(): i32 {
  // The event, as one line of JSON (newlines in JSON text are only whitespace).
  const event = Host.inputString().replaceAll("\n", " ").replaceAll("\r", " ");
  const old = getVar("events");
  const lines = old == "" ? new Array<string>() : old.split("\n");
  lines.push(event);
  while (lines.length > KEEP) lines.shift();
  const version = getNumber("version") + 1;
  setVar("events", lines.join("\n"));
  setVar("version", version.toString());
  setVar("count", (getNumber("count") + 1).toString());
  output(assigns(<f64>version).stringify());
  return 0;
}

export function render(): i32 {
  const viewer = input();
  let html = "<h1>Version: " + getNumber("version").toString() + "</h1>";
  html += "<h2>You are " + escape(viewer.getString("player_id")) + "</h2>";
  html += "<button phx-click=\"cell-clicked\" phx-value-cell=\"0\">Click me</button>";
  html += "<p>" + getNumber("count").toString() + " events</p><ol class=\"events\">";
  const text = getVar("events");
  if (text != "") {
    const lines = text.split("\n");
    for (let i = lines.length - 1; i >= 0; i--) html += "<li>" + escape(lines[i]) + "</li>";
  }
  output(html + "</ol>");
  return 0;
}
