// Fetches the URL given as input through the host (allowed_hosts applies).
export function fetch() {
  const { url, method, body } = JSON.parse(Host.inputString());
  const response = Http.request({ url, method: method || "GET", headers: { "X-Plugin": "js", "X-Count": 2 } }, body);
  Host.outputString(JSON.stringify({ status: response.status, body: response.body,
    test_header: response.headers["x-test"] || null }));
}
