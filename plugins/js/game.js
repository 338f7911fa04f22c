// A GameBox-style tic-tac-toe game (ES module). State lives in Var, so every
// call sees the match so far. Exports: get_constraints, init_game,
// handle_event, render.
const LINES = [[0, 1, 2], [3, 4, 5], [6, 7, 8], [0, 3, 6], [1, 4, 7], [2, 5, 8], [0, 4, 8], [2, 4, 6]];

function load() {
  const raw = Var.getString("state");
  if (raw === null) throw new Error("the game has not been initialised: call init_game first");
  return JSON.parse(raw);
}

function save(state) {
  state.version += 1;
  Var.set("state", JSON.stringify(state));
  return state;
}

function winner(board) {
  for (const [a, b, c] of LINES) {
    if (board[a] && board[a] === board[b] && board[a] === board[c]) return board[a];
  }
  return board.every((cell) => cell) ? "draw" : null;
}

export function get_constraints() {
  Host.outputString(JSON.stringify({ min_players: 2, max_players: 2 }));
}

export function init_game() {
  const { player_ids } = JSON.parse(Host.inputString());
  if (!Array.isArray(player_ids) || player_ids.length !== 2) {
    throw new Error("tic-tac-toe needs exactly 2 player_ids");
  }
  const state = save({ version: 0, players: player_ids, board: Array(9).fill(""), turn: 0, winner: null });
  Host.outputString(JSON.stringify(state));
}

export function handle_event() {
  const { player_id, event_name, value } = JSON.parse(Host.inputString());
  const state = load();
  if (event_name !== "cell-clicked") throw new Error(`unknown event ${event_name}`);
  if (state.winner) throw new Error("the game is over");
  if (state.players[state.turn] !== player_id) throw new Error(`it is not ${player_id}'s turn`);
  const cell = Number(value.cell);
  if (!(cell >= 0 && cell < 9) || state.board[cell]) throw new Error(`cell ${value.cell} is not free`);
  state.board[cell] = state.turn === 0 ? "X" : "O";
  state.turn = 1 - state.turn;
  state.winner = winner(state.board);
  Host.outputString(JSON.stringify(save(state)));
}

const escape = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

export function render() {
  const assigns = JSON.parse(Host.inputString() || "{}");
  const state = load();
  const me = assigns.player_id;
  const cells = state.board
    .map((mark, i) => `<button class="cell" phx-click="cell-clicked" phx-value-cell="${i}">${mark}</button>`)
    .join("");
  let status;
  if (state.winner === "draw") status = "Draw!";
  else if (state.winner) status = `${escape(state.players[state.winner === "X" ? 0 : 1])} wins!`;
  else status = state.players[state.turn] === me ? "Your turn" : `Waiting for ${escape(state.players[state.turn])}`;
  return `<div class="board" data-version="${state.version}">${cells}</div><p class="status">${status}</p>`;
}
