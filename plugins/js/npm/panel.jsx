// A state machine rendered with React on the server side (the shape of the PDK's `react` example):
// `setState` applies an action and renders, `render` renders the current state.
import React from "react";
import { renderToString } from "react-dom/server";

const state = { theme: { color: "navy", title: "Welcome" }, visits: 0 };

function Panel({ theme, visits }) {
  return (
    <section style={{ color: theme.color, borderWidth: 2 }}>
      <h1>{theme.title}</h1>
      <p>rendered {visits} {visits === 1 ? "time" : "times"}</p>
    </section>
  );
}

function view() {
  state.visits += 1;
  return renderToString(<Panel theme={state.theme} visits={state.visits} />);
}

export function setState() {
  const action = JSON.parse(Host.inputString());
  if (action.type !== "theme") {
    throw new Error(`unknown action type: ${JSON.stringify(action.type)}`);
  }
  Object.assign(state.theme, action.theme);
  Host.outputString(view());
}

export function render() {
  Host.outputString(view());
}
