// Var, Http, Config and Memory in one call; a number returned is the return code.
export function visit() {
  const name = Host.inputString();
  Var.set("visitor", name);
  const remembered = Var.getString("visitor");
  if (remembered !== name) {
    Host.outputString("Var lost the visitor");
    return 3;
  }
  const response = Http.request({ url: Config.get("echo_url"), method: "POST" }, remembered);
  if (response.status !== 200) {
    return 4;
  }
  const echoed = JSON.parse(response.body);
  const family = Config.get("family");
  if (!family) {
    Host.outputString("no family name in the config");
    return 5;
  }
  const handle = Memory.fromString(`${echoed.method} ${echoed.body} ${family}`);
  Host.outputString(handle.readString());
  handle.free();
  return 0;
}
