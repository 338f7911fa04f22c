// The seed's event-log test game: every event is appended to a log and bumps
// the version; the page shows the version, who you are, a button and the log.
// Useful to see exactly what the platform sends a game.

import { assigns, constraints, escape, input, loadState, output, saveState } from "./lib/game";
import { Json, stringArray } from "./lib/json";

const KEEP = 50; // events kept in the state (the page shows the newest first)

export function get_constraints(): i32 {
  constraints(2, 2);
  return 0;
}

export function init_game(): i32 {
  const config = input();
  const state = Json.obj()
    .set("player_ids", stringArray(config.getStrings("player_ids")))
    .set("events", Json.arr())
    .set("count", Json.num(0))
    .set("version", Json.num(0));
  saveState(state);
  return 0;
}

export function handle_event(): i32 {
  const event = input();
  const state = loadState();
  let events = state.get("events");
  if (events === null) { events = Json.arr(); state.set("events", events); }
  events.push(event);
  if (events.items.length > KEEP) events.items.shift();
  const version = state.getNumber("version") + 1;
  state.set("version", Json.num(version));
  state.set("count", Json.num(state.getNumber("count") + 1));
  saveState(state);
  output(assigns(version).stringify());
  return 0;
}

export function render(): i32 {
  const viewer = input();
  const state = loadState();
  let html = "<h1>Version: " + escape(state.getString("version", "0")) + "</h1>";
  html += "<h2>You are " + escape(viewer.getString("player_id")) + "</h2>";
  html += "<button phx-click=\"cell-clicked\" phx-value-cell=\"0\">Click me</button>";
  html += "<p>" + escape(state.getString("count", "0")) + " events</p><ol class=\"events\">";
  const events = state.get("events");
  if (events !== null) {
    for (let i = events.items.length - 1; i >= 0; i--) {
      html += "<li>" + escape(events.items[i].stringify()) + "</li>";
    }
  }
  output(html + "</ol>");
  return 0;
}
