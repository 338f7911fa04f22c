// Tic-tac-toe for two: X moves first, turns are enforced, three in a row wins,
// a full board is a draw, and "New game" starts again (the loser begins).

import { constraints, escape, indexOf, input, loadState, moved, output, reply, saveState } from "./lib/game";
import { Json, stringArray } from "./lib/json";

const LINES: StaticArray<i32> = [0, 1, 2, 3, 4, 5, 6, 7, 8, 0, 3, 6, 1, 4, 7, 2, 5, 8, 0, 4, 8, 2, 4, 6];
const MARKS: StaticArray<string> = ["X", "O"];

export function get_constraints(): i32 {
  constraints(2, 2);
  return 0;
}

function emptyBoard(): Json {
  const board = Json.arr();
  for (let i = 0; i < 9; i++) board.push(Json.str(""));
  return board;
}

export function init_game(): i32 {
  const players = input().getStrings("player_ids");
  const state = Json.obj()
    .set("players", stringArray(players))
    .set("board", emptyBoard())
    .set("turn", Json.num(0))
    .set("winner", Json.str(""))
    .set("draw", Json.bool(false))
    .set("version", Json.num(0));
  saveState(state);
  return 0;
}

function winnerMark(board: Json): string {
  for (let i = 0; i < LINES.length; i += 3) {
    const a = board.items[LINES[i]].str;
    if (a != "" && a == board.items[LINES[i + 1]].str && a == board.items[LINES[i + 2]].str) return a;
  }
  return "";
}

export function handle_event(): i32 {
  const event = input();
  const state = loadState();
  const players = state.getStrings("players");
  const board = state.get("board")!;
  const version = state.getNumber("version");
  const me = indexOf(players, event.getString("player_id"));
  const name = event.getString("event_name");
  const over = state.getString("winner") != "" || state.getBool("draw");
  if (me < 0) {
    return reply(version, "You are watching this game.");
  }
  if (name == "reset") {
    // The loser (or, after a draw, the player who did not begin) starts.
    const turn = <i32>state.getNumber("turn");
    state.set("board", emptyBoard()).set("winner", Json.str("")).set("draw", Json.bool(false));
    state.set("turn", Json.num(over ? turn : 0));
  } else if (name == "cell-clicked") {
    const value = event.get("value");
    const cell = value === null ? -1 : <i32>value.getNumber("cell", -1);
    const turn = <i32>state.getNumber("turn");
    if (over) { return reply(version, "The game is over: press New game to play again."); }
    if (turn != me) { return reply(version, "It is not your turn."); }
    if (cell < 0 || cell > 8 || board.items[cell].str != "") { return reply(version, "Pick an empty cell."); }
    board.items[cell] = Json.str(MARKS[me]);
    const mark = winnerMark(board);
    if (mark != "") {
      state.set("winner", Json.str(players[mark == "X" ? 0 : 1]));
      state.set("turn", Json.num(mark == "X" ? 1 : 0)); // the loser begins the next game
    } else {
      let full = true;
      for (let i = 0; i < 9; i++) if (board.items[i].str == "") full = false;
      if (full) state.set("draw", Json.bool(true));
      state.set("turn", Json.num(1 - turn));
    }
  } else {
    return reply(version, "Unknown move.");
  }
  return moved(state);
}

export function render(): i32 {
  const viewer = input();
  const state = loadState();
  const players = state.getStrings("players");
  const board = state.get("board")!;
  const me = indexOf(players, viewer.getString("player_id"));
  const turn = <i32>state.getNumber("turn");
  const winner = state.getString("winner");
  let html = "<div class=\"ttt\"><style>.ttt .grid{display:grid;grid-template-columns:repeat(3,4.5rem);gap:.4rem;margin:1rem 0}"
    + ".ttt .cell{width:4.5rem;height:4.5rem;font-size:2.2rem;font-weight:bold;border-radius:.5rem}"
    + ".ttt .who{font-size:1.1rem}.ttt .result{font-size:1.5rem;font-weight:bold}</style>";
  html += "<p class=\"who\">";
  for (let i = 0; i < players.length && i < 2; i++) {
    html += (i > 0 ? " vs " : "") + "<b>" + MARKS[i] + "</b> " + escape(players[i]);
  }
  html += "</p>";
  if (winner != "") {
    html += "<p class=\"result\">" + (winner == viewer.getString("player_id") ? "You win!" : escape(winner) + " wins!") + "</p>";
  } else if (state.getBool("draw")) {
    html += "<p class=\"result\">Draw!</p>";
  } else if (me < 0) {
    html += "<p class=\"turn\">Watching: " + escape(turn < players.length ? players[turn] : "") + " (" + MARKS[turn] + ") to move</p>";
  } else if (me == turn) {
    html += "<p class=\"turn\">Your turn (" + MARKS[me] + ")</p>";
  } else {
    html += "<p class=\"turn\">Waiting for " + escape(turn < players.length ? players[turn] : "") + " (" + MARKS[turn] + ")</p>";
  }
  html += "<div class=\"grid\">";
  for (let i = 0; i < 9; i++) {
    html += "<button class=\"cell\" phx-click=\"cell-clicked\" phx-value-cell=\"" + i.toString() + "\">" + board.items[i].str + "</button>";
  }
  html += "</div>";
  if (me >= 0) html += "<button class=\"reset\" phx-click=\"reset\">New game</button>";
  const notice = viewer.getString("notice");
  if (notice != "") html += "<p class=\"notice\">" + escape(notice) + "</p>";
  output(html + "</div>");
  return 0;
}
