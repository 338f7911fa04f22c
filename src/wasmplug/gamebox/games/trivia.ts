// Trivia for 2 to 8 players: everyone answers each question once, answers are
// revealed when all have answered, the first player moves on to the next
// question, and the scoreboard shows who knows best.

import { constraints, escape, indexOf, input, loadState, moved, output, reply, saveState } from "./lib/game";
import { Json, stringArray } from "./lib/json";

class Question {
  constructor(public text: string, public choices: Array<string>, public answer: i32) {}
}

const QUESTIONS: Array<Question> = [
  new Question("Which planet has the shortest year?", ["Venus", "Mercury", "Mars", "Earth"], 1),
  new Question("How many sides does a hexagon have?", ["Five", "Six", "Seven", "Eight"], 1),
  new Question("What is the chemical symbol for gold?", ["Go", "Gd", "Au", "Ag"], 2),
  new Question("Which ocean is the largest?", ["Atlantic", "Indian", "Arctic", "Pacific"], 3),
  new Question("What does a WebAssembly module start with?", ["\\0asm", "MZ", "\\x7fELF", "PK"], 0),
  new Question("How many bits are in a byte?", ["Four", "Eight", "Sixteen", "Ten"], 1),
  new Question("Which animal is the largest alive today?", ["African elephant", "Blue whale", "Giraffe", "Whale shark"], 1),
  new Question("What is 7 times 8?", ["54", "56", "58", "64"], 1),
  new Question("Which gas do plants take in from the air?", ["Oxygen", "Nitrogen", "Carbon dioxide", "Helium"], 2),
  new Question("In which year did the first person walk on the Moon?", ["1965", "1969", "1972", "1959"], 1),
];

export function get_constraints(): i32 {
  constraints(2, 8);
  return 0;
}

function scoreboard(players: Array<string>): Json {
  const scores = Json.obj();
  for (let i = 0; i < players.length; i++) scores.set(players[i], Json.num(0));
  return scores;
}

export function init_game(): i32 {
  const players = input().getStrings("player_ids");
  saveState(Json.obj()
    .set("players", stringArray(players))
    .set("scores", scoreboard(players))
    .set("question", Json.num(0))
    .set("answers", Json.obj())
    .set("phase", Json.str("question"))
    .set("version", Json.num(0)));
  return 0;
}

function reveal(state: Json): void {
  const q = QUESTIONS[<i32>state.getNumber("question")];
  const answers = state.get("answers")!;
  const scores = state.get("scores")!;
  for (let i = 0; i < answers.keys.length; i++) {
    const who = answers.keys[i];
    if (<i32>answers.values.get(who).num == q.answer) scores.set(who, Json.num(scores.getNumber(who) + 1));
  }
  state.set("phase", Json.str("reveal"));
}

export function handle_event(): i32 {
  const event = input();
  const state = loadState();
  const players = state.getStrings("players");
  const who = event.getString("player_id");
  const name = event.getString("event_name");
  const phase = state.getString("phase");
  const version = state.getNumber("version");
  if (indexOf(players, who) < 0) { return reply(version, "You are watching this game."); }
  if (name == "answer") {
    const value = event.get("value");
    const choice = value === null ? -1 : <i32>value.getNumber("choice", -1);
    const answers = state.get("answers")!;
    if (phase != "question") { return reply(version, "Wait for the next question."); }
    if (answers.get(who) !== null) { return reply(version, "You have already answered."); }
    if (choice < 0 || choice > 3) { return reply(version, "Pick one of the answers."); }
    answers.set(who, Json.num(choice));
    if (answers.keys.length >= players.length) reveal(state);
  } else if (name == "next") {
    if (who != players[0]) { return reply(version, "Only " + players[0] + " can move on."); }
    if (phase == "question") {
      reveal(state);
    } else if (phase == "reveal") {
      const next = state.getNumber("question") + 1;
      if (<i32>next >= QUESTIONS.length) {
        state.set("phase", Json.str("over"));
      } else {
        state.set("question", Json.num(next)).set("answers", Json.obj()).set("phase", Json.str("question"));
      }
    } else {
      state.set("scores", scoreboard(players)).set("question", Json.num(0))
        .set("answers", Json.obj()).set("phase", Json.str("question"));
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
  const me = viewer.getString("player_id");
  const playing = indexOf(players, me) >= 0;
  const phase = state.getString("phase");
  const index = <i32>state.getNumber("question");
  const q = QUESTIONS[index];
  const answers = state.get("answers")!;
  const scores = state.get("scores")!;
  let html = "<div class=\"trivia\"><style>.trivia .choices{display:grid;grid-template-columns:1fr 1fr;gap:.5rem;max-width:32rem}"
    + ".trivia .choice{padding:.8rem;font-size:1rem}.trivia .right{outline:3px solid #2e9d55}.trivia .mine{font-weight:bold}"
    + ".trivia table{border-collapse:collapse;margin-top:1rem}.trivia td{padding:.2rem .8rem}</style>";
  if (phase == "over") {
    html += "<h2>Final scores</h2>";
  } else {
    html += "<p class=\"progress\">Question " + (index + 1).toString() + " of " + QUESTIONS.length.toString() + "</p>";
    html += "<h2 class=\"question\">" + escape(q.text) + "</h2><div class=\"choices\">";
    const mine = answers.get(me);
    for (let i = 0; i < q.choices.length; i++) {
      let cls = "choice";
      if (phase == "reveal" && i == q.answer) cls += " right";
      if (mine !== null && <i32>mine.num == i) cls += " mine";
      html += "<button class=\"" + cls + "\" phx-click=\"answer\" phx-value-choice=\"" + i.toString() + "\">" + escape(q.choices[i]) + "</button>";
    }
    html += "</div>";
    if (phase == "question") {
      html += "<p class=\"waiting\">" + answers.keys.length.toString() + " of " + players.length.toString() + " answered</p>";
    } else {
      html += "<p class=\"answer\">The answer: " + escape(q.choices[q.answer]) + "</p>";
    }
  }
  html += "<table class=\"scores\">";
  for (let i = 0; i < players.length; i++) {
    html += "<tr><td>" + escape(players[i]) + "</td><td>" + scores.getString(players[i], "0") + "</td></tr>";
  }
  html += "</table>";
  if (playing && me == players[0]) {
    const label = phase == "question" ? "Reveal answer" : phase == "reveal" ? (index + 1 >= QUESTIONS.length ? "Final scores" : "Next question") : "Play again";
    html += "<p><button class=\"next\" phx-click=\"next\">" + label + "</button></p>";
  }
  const notice = viewer.getString("notice");
  if (notice != "") html += "<p class=\"notice\">" + escape(notice) + "</p>";
  output(html + "</div>");
  return 0;
}
