// ATTACK: reach the network from a plug-in whose manifest allows no hosts.
// EXPECTED: "HTTP request to <url> is not allowed"; the server sees nothing.
export function fetch() {
  return Http.request({ url: Host.inputString() }).body;
}

export function ok() {
  return "ok";
}
