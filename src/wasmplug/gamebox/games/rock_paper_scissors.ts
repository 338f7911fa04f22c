// Rock, paper, scissors for two: both throw in secret, then both hands are
// shown with the round's result and the running score.

import { constraints, escape, indexOf, input, loadState, moved, output, reply, saveState } from "./lib/game";
import { Json, stringArray } from "./lib/json";

const HANDS: StaticArray<string> = ["rock", "paper", "scissors"];

export function get_constraints(): i32 {
  constraints(2, 2);
  return 0;
}

export function init_game(): i32 {
  const players = input().getStrings("player_ids");
  saveState(Json.obj()
    .set("players", stringArray(players))
    .set("hands", Json.obj())
    .set("score", Json.arr().push(Json.num(0)).push(Json.num(0)))
    .set("round", Json.num(1))
    .set("last", Json.str(""))
    .set("version", Json.num(0)));
  return 0;
}

function handIndex(hand: string): i32 {
  for (let i = 0; i < HANDS.length; i++) if (HANDS[i] == hand) return i;
  return -1;
}

export function handle_event(): i32 {
  const event = input();
  const state = loadState();
  const players = state.getStrings("players");
  const who = event.getString("player_id");
  const version = state.getNumber("version");
  const me = indexOf(players, who);
  if (me < 0) { return reply(version, "You are watching this game."); }
  if (event.getString("event_name") != "throw") { return reply(version, "Unknown move."); }
  const value = event.get("value");
  const hand = value === null ? "" : value.getString("hand");
  if (handIndex(hand) < 0) { return reply(version, "Throw rock, paper or scissors."); }
  const hands = state.get("hands")!;
  if (hands.get(who) !== null) { return reply(version, "You have thrown already: wait for your opponent."); }
  hands.set(who, Json.str(hand));
  if (hands.keys.length == 2 && players.length >= 2) {
    const a = handIndex(hands.getString(players[0]));
    const b = handIndex(hands.getString(players[1]));
    const score = state.get("score")!;
    let result = "Round " + state.getString("round") + ": " + players[0] + " " + HANDS[a] + ", "
      + players[1] + " " + HANDS[b] + " - ";
    if (a == b) {
      result += "a tie.";
    } else {
      const winner = (a - b + 3) % 3 == 1 ? 0 : 1;
      score.items[winner] = Json.num(score.items[winner].num + 1);
      result += players[winner] + " wins the round.";
    }
    state.set("last", Json.str(result)).set("hands", Json.obj()).set("round", Json.num(state.getNumber("round") + 1));
  }
  return moved(state);
}

export function render(): i32 {
  const viewer = input();
  const state = loadState();
  const players = state.getStrings("players");
  const me = viewer.getString("player_id");
  const hands = state.get("hands")!;
  const score = state.get("score")!;
  let html = "<div class=\"rps\"><style>.rps .hand{font-size:1.1rem;padding:.7rem 1.2rem;margin-right:.5rem}</style>";
  html += "<h2>Round " + escape(state.getString("round")) + "</h2><p class=\"score\">";
  for (let i = 0; i < players.length && i < 2; i++) {
    html += (i > 0 ? " - " : "") + escape(players[i]) + " " + score.items[i].stringify();
  }
  html += "</p>";
  const last = state.getString("last");
  if (last != "") html += "<p class=\"last\">" + escape(last) + "</p>";
  if (indexOf(players, me) >= 0) {
    const mine = hands.get(me);
    if (mine === null) {
      for (let i = 0; i < HANDS.length; i++) {
        html += "<button class=\"hand\" phx-click=\"throw\" phx-value-hand=\"" + HANDS[i] + "\">" + HANDS[i] + "</button>";
      }
    } else {
      html += "<p class=\"thrown\">You threw " + escape(mine.str) + ". Waiting for your opponent...</p>";
    }
  } else {
    html += "<p class=\"watching\">" + hands.keys.length.toString() + " of 2 have thrown.</p>";
  }
  const notice = viewer.getString("notice");
  if (notice != "") html += "<p class=\"notice\">" + escape(notice) + "</p>";
  output(html + "</div>");
  return 0;
}
