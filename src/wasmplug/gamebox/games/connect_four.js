// Connect four for two, in JavaScript (the JS PDK style, ES module): players
// drop discs into one of 7 columns in turn (red begins); four in a row across,
// down or diagonally wins; a full board is a draw; "New game" starts again,
// the loser (after a draw: the one who did not begin) going first.
// State: one var, "state" (JSON).

const COLUMNS = 7;
const ROWS = 6;
const DISCS = ["red", "yellow"];
const DIRECTIONS = [[0, 1], [1, 0], [1, 1], [1, -1]];

const escape = (text) => String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function emptyBoard() {
  // board[row][column], row 0 at the top; "" free, else 0 or 1 (the player)
  return Array.from({ length: ROWS }, () => Array(COLUMNS).fill(""));
}

function load() {
  const raw = Var.getString("state");
  if (raw === null) throw new Error("connect four has not started: init_game first");
  return JSON.parse(raw);
}

function save(state) {
  Var.set("state", JSON.stringify(state));
}

function reply(state, notice) {
  Host.outputString(JSON.stringify({ version: state.version, notice }));
}

function fourFrom(board, row, column) {
  const who = board[row][column];
  for (const [dr, dc] of DIRECTIONS) {
    let count = 1;
    for (const sign of [1, -1]) {
      let r = row + sign * dr;
      let c = column + sign * dc;
      while (r >= 0 && r < ROWS && c >= 0 && c < COLUMNS && board[r][c] === who) {
        count += 1;
        r += sign * dr;
        c += sign * dc;
      }
    }
    if (count >= 4) return true;
  }
  return false;
}

export function get_constraints() {
  Host.outputString(JSON.stringify({ min_players: 2, max_players: 2 }));
}

export function init_game() {
  const { player_ids } = JSON.parse(Host.inputString());
  save({ players: player_ids.slice(0, 2), board: emptyBoard(), turn: 0, starter: 0,
         winner: null, draw: false, last: null, version: 0 });
}

export function handle_event() {
  const { player_id, event_name, value } = JSON.parse(Host.inputString());
  const state = load();
  const me = state.players.indexOf(player_id);
  const over = state.winner !== null || state.draw;
  if (me < 0) return reply(state, "You are watching this game.");
  if (event_name === "reset") {
    state.starter = state.winner !== null ? 1 - state.players.indexOf(state.winner)
      : state.draw ? 1 - state.starter : state.starter;
    Object.assign(state, { board: emptyBoard(), turn: state.starter, winner: null, draw: false,
                           last: null });
  } else if (event_name === "drop") {
    if (over) return reply(state, "The game is over: press New game to play again.");
    if (state.turn !== me) return reply(state, "It is not your turn.");
    const column = Number((value || {}).column);
    if (!Number.isInteger(column) || column < 0 || column >= COLUMNS) {
      return reply(state, "Pick a column.");
    }
    let row = ROWS - 1;
    while (row >= 0 && state.board[row][column] !== "") row -= 1;
    if (row < 0) return reply(state, "That column is full.");
    state.board[row][column] = me;
    state.last = [row, column];
    if (fourFrom(state.board, row, column)) state.winner = player_id;
    else if (state.board[0].every((cell) => cell !== "")) state.draw = true;
    else state.turn = 1 - me;
  } else {
    return reply(state, "Unknown move.");
  }
  state.version += 1;
  save(state);
  reply(state, "");
}

export function render() {
  const viewer = JSON.parse(Host.inputString());
  const state = load();
  const me = state.players.indexOf(viewer.player_id);
  const names = state.players.map((name, i) => `<b class="${DISCS[i]}">${DISCS[i]}</b> ${escape(name)}`);
  let html = '<div class="c4"><style>.c4 .grid{display:grid;grid-template-columns:repeat(7,3.2rem);'
    + "gap:.3rem;margin:1rem 0;padding:.4rem;background:#1d4ed8;border-radius:.5rem;width:max-content}"
    + ".c4 .drop{width:3.2rem;height:3.2rem;border-radius:50%;border:0;background:#e5e7eb}"
    + ".c4 .drop.red,.c4 b.red{background:#dc2626;color:#fff}.c4 .drop.yellow,.c4 b.yellow{background:#facc15}"
    + ".c4 b{padding:0 .3rem;border-radius:.3rem}.c4 .result{font-size:1.5rem;font-weight:bold}</style>";
  html += `<p class="who">${names.join(" vs ")}</p>`;
  if (state.winner !== null) {
    html += `<p class="result">${state.winner === viewer.player_id ? "You win!" : `${escape(state.winner)} wins!`}</p>`;
  } else if (state.draw) {
    html += '<p class="result">Draw!</p>';
  } else if (me === state.turn) {
    html += `<p class="turn">Your turn (${DISCS[me]})</p>`;
  } else {
    const mover = `${escape(state.players[state.turn])} (${DISCS[state.turn]})`;
    html += `<p class="turn">${me < 0 ? "Watching: " + mover + " to move" : "Waiting for " + mover}</p>`;
  }
  html += '<div class="grid">';
  for (let row = 0; row < ROWS; row++) {
    for (let column = 0; column < COLUMNS; column++) {
      const cell = state.board[row][column];
      const disc = cell === "" ? "" : ` ${DISCS[cell]}`;
      html += `<button class="drop${disc}" phx-click="drop" phx-value-column="${column}" `
        + `title="column ${column + 1}"></button>`;
    }
  }
  html += "</div>";
  if (me >= 0) html += '<button class="reset" phx-click="reset">New game</button>';
  if (viewer.notice) html += `<p class="notice">${escape(viewer.notice)}</p>`;
  Host.outputString(html + "</div>");
}
