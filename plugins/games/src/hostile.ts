// A hostile game (test only, never in the catalogue): its render tries every
// way to run script or load something from outside; the "huge" event makes
// the next render 10 MB. tests/gamebox/test_browser.py proves none of it works.

import { Host, Var } from "@extism/as-pdk";
import { assigns, constraints, input, output } from "../../../src/wasmplug/gamebox/games/lib/game";

export function get_constraints(): i32 {
  constraints(1, 4);
  return 0;
}

export function init_game(): i32 {
  Var.remove("huge");
  return 0;
}

export function handle_event(): i32 {
  const event = input();
  if (event.getString("event_name") == "huge") Var.set("huge", Uint8Array.wrap(String.UTF8.encode("1")));
  output(assigns(1 + <f64>(event.getString("event_name") == "huge" ? 1 : 0)).stringify());
  return 0;
}

export function render(): i32 {
  const marker = "http://evil.example/"; // any request to it would be seen by the test
  if (Var.getString("huge") !== null) {
    const huge = new Uint8Array(10 * 1024 * 1024);
    huge.fill(0x41); // "A"
    huge.set([0x3c, 0x70, 0x3e], 0); // "<p>"
    Host.output(huge);
    return 0;
  }
  let html = "<h2 class=\"hostile\">Hostile game</h2>";
  html += "<script>window.__pwned = 'script';</script>";
  html += "<img src=\"x\" onerror=\"window.__pwned = 'img-onerror'\">";
  html += "<img src=\"" + marker + "img\">";
  html += "<svg onload=\"window.__pwned = 'svg-onload'\"><circle r=\"4\"></circle></svg>";
  html += "<a class=\"jslink\" href=\"javascript:window.__pwned = 'javascript-link'\">click me</a>";
  html += "<a class=\"datalink\" href=\"data:text/html,<script>alert(1)</script>\">data</a>";
  html += "<div class=\"cssurl\" style=\"background-image: url(" + marker + "style-attr); width: 50px; height: 50px\">css</div>";
  html += "<style>.hostile { background: url(" + marker + "style-tag) } @import url(" + marker + "import);</style>";
  html += "<form action=\"" + marker + "form\" method=\"post\"><input name=\"x\" value=\"y\"><button class=\"formbtn\">send</button></form>";
  html += "<iframe src=\"" + marker + "iframe\"></iframe>";
  html += "<object data=\"" + marker + "object\"></object>";
  html += "<link rel=\"stylesheet\" href=\"" + marker + "link\">";
  html += "<meta http-equiv=\"refresh\" content=\"0; url=" + marker + "meta\">";
  html += "<button class=\"onclick\" onclick=\"window.__pwned = 'onclick'\" phx-click=\"noop\">press</button>";
  html += "<button class=\"huge\" phx-click=\"huge\">make it huge</button>";
  output(html);
  return 0;
}
