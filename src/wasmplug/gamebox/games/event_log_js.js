// The seed's event-log test game, in JavaScript (the JS PDK style, CommonJS):
// every event is appended to a log and bumps the version; the page shows the
// version, who you are, a button and the log (newest first). The same game as
// event_log.ts, to compare what the platform sends a game in either language.
// State: the vars "version", "count" and "events" (a JSON array of the newest
// events' JSON text).

const KEEP = 20; // events kept (and shown)

function getNumber(name) {
  const text = Var.getString(name);
  return text === null ? 0 : Number(text);
}

function escape(text) {
  return String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function get_constraints() {
  Host.outputString(JSON.stringify({ min_players: 2, max_players: 2 }));
}

function init_game() {
  JSON.parse(Host.inputString()); // {"player_ids": [...]}: every event says who sent it
  Var.set("version", "0");
  Var.set("count", "0");
  Var.set("events", "[]");
}

function handle_event() {
  const event = Host.inputString().replace(/[\r\n]/g, " ");
  const events = JSON.parse(Var.getString("events") || "[]");
  events.push(event);
  while (events.length > KEEP) events.shift();
  const version = getNumber("version") + 1;
  Var.set("events", JSON.stringify(events));
  Var.set("version", String(version));
  Var.set("count", String(getNumber("count") + 1));
  Host.outputString(JSON.stringify({ version }));
}

function render() {
  const viewer = JSON.parse(Host.inputString());
  const events = JSON.parse(Var.getString("events") || "[]");
  let html = `<h1>Version: ${getNumber("version")}</h1>`;
  html += `<h2>You are ${escape(viewer.player_id)}</h2>`;
  html += '<button phx-click="cell-clicked" phx-value-cell="0">Click me</button>';
  html += `<p>${getNumber("count")} events</p><ol class="events">`;
  for (let i = events.length - 1; i >= 0; i--) html += `<li>${escape(events[i])}</li>`;
  Host.outputString(html + "</ol>");
}

module.exports = { get_constraints, init_game, handle_event, render };
