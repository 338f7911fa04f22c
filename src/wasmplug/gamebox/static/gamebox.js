// GameBox's client: one WebSocket per viewer. It sends clicks on the game's
// phx-click elements (with their phx-value-* data) and on the platform's
// buttons, and patches the page with what the server sends back, keeping
// focus, typed text and scroll. After a drop it reconnects and the server
// sends the current state. No framework, nothing inline (the page's CSP
// allows scripts from our origin only).
(function () {
  "use strict";
  const root = document.getElementById("arena");
  if (!root) return;
  const code = root.dataset.code;
  const info = document.getElementById("arena-info");
  const board = document.getElementById("board");
  const status = document.getElementById("status");
  const flash = document.getElementById("flash");
  let socket = null;
  let attempt = 0;
  let outbox = [];

  function setStatus(text) {
    status.textContent = text;
    root.dataset.live = text === "live" ? "1" : "0";
  }

  function connect() {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    socket = new WebSocket(scheme + "//" + location.host + "/arena/" + code + "/ws");
    socket.onopen = function () {
      attempt = 0;
      setStatus("live");
      const queued = outbox;
      outbox = [];
      queued.forEach(send);
    };
    socket.onmessage = function (message) { receive(JSON.parse(message.data)); };
    socket.onclose = function (event) {
      if (event.code === 4404) { location.href = "/?arena=" + code; return; }
      setStatus("reconnecting...");
      attempt += 1;
      setTimeout(connect, Math.min(5000, 100 * Math.pow(2, attempt)));
    };
  }

  function send(message) {
    if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(message));
    else outbox.push(message);
  }

  function receive(message) {
    if (message.t === "arena" && typeof message.html === "string") {
      patch(info, message.html);
    } else if (message.t === "arena") { // a change: the small parts, and the members that changed
      patch(document.getElementById("arena-head"), message.head);
      patch(document.getElementById("arena-controls"), message.controls);
      message.members.forEach(function (change) { setMember(change[0], change[1]); });
    } else if (message.t === "board") {
      patch(board, message.html, true);
      board.dataset.version = message.version === null ? "" : String(message.version);
    } else if (message.t === "flash") {
      flash.textContent = message.text;
      flash.hidden = false;
      clearTimeout(flash.timer);
      flash.timer = setTimeout(function () { flash.hidden = true; }, 5000);
    } else if (message.t === "redirect") {
      socket.onclose = null;
      location.href = message.url;
    }
  }

  // One member's item in the list: replaced, added at the end, or ("") removed.
  function setMember(name, html) {
    const list = document.getElementById("members");
    const old = Array.prototype.find.call(list.children, function (li) { return li.dataset.name === name; });
    if (!html) { if (old) old.remove(); return; }
    const template = document.createElement("template");
    template.innerHTML = html;
    const item = template.content.firstElementChild;
    if (!item) return;
    if (old) old.replaceWith(item); else list.appendChild(item);
  }

  // -- patching: change only what differs, so focus and scroll survive ------
  // Never in a game's board, even if the server's sanitiser missed them (and
  // the CSP would stop most): the third wall.
  const FORBIDDEN = "script,meta,link,base,iframe,frame,frameset,object,embed,form,img,svg,math";

  function patch(target, html, untrusted) {
    const template = document.createElement("template"); // inert: nothing runs or loads
    template.innerHTML = html;
    if (untrusted) {
      template.content.querySelectorAll(FORBIDDEN).forEach(function (el) { el.remove(); });
    }
    morphChildren(target, template.content);
  }

  function sameKind(a, b) {
    return a.nodeType === b.nodeType && a.nodeName === b.nodeName;
  }

  function morphChildren(into, from) {
    const now = Array.prototype.slice.call(into.childNodes);
    const next = Array.prototype.slice.call(from.childNodes);
    next.forEach(function (node, i) {
      const old = now[i];
      if (!old) { into.appendChild(document.importNode(node, true)); return; }
      if (!sameKind(old, node)) { into.replaceChild(document.importNode(node, true), old); return; }
      if (node.nodeType !== Node.ELEMENT_NODE) {
        if (old.nodeValue !== node.nodeValue) old.nodeValue = node.nodeValue;
        return;
      }
      morphAttributes(old, node);
      morphChildren(old, node);
    });
    for (let i = now.length - 1; i >= next.length; i--) into.removeChild(now[i]);
  }

  function morphAttributes(old, node) {
    const focused = old === document.activeElement;
    Array.prototype.slice.call(old.attributes).forEach(function (attr) {
      if (attr.name === "open" && old.tagName === "DETAILS") return; // opened by the user: stays open
      if (!node.hasAttribute(attr.name)) old.removeAttribute(attr.name);
    });
    Array.prototype.slice.call(node.attributes).forEach(function (attr) {
      if (old.getAttribute(attr.name) !== attr.value) old.setAttribute(attr.name, attr.value);
    });
    // What the user is typing wins over the server's value.
    if ("value" in old && !focused && old.tagName !== "BUTTON" && node.hasAttribute("value")) {
      old.value = node.getAttribute("value");
    }
  }

  // -- clicks ------------------------------------------------------------------
  document.addEventListener("click", function (event) {
    const target = event.target instanceof Element ? event.target : null;
    if (!target) return;
    const action = target.closest("[data-gb-action]");
    if (action && info.contains(action)) {
      event.preventDefault();
      send({ t: "action", name: action.dataset.gbAction, game: action.dataset.gbGame || "" });
      return;
    }
    const element = target.closest("[phx-click]");
    if (element && board.contains(element)) {
      event.preventDefault();
      const value = {};
      Array.prototype.slice.call(element.attributes).forEach(function (attr) {
        if (attr.name.indexOf("phx-value-") === 0) value[attr.name.slice(10)] = attr.value;
      });
      value.value = typeof element.value === "string" ? element.value : (element.getAttribute("value") || "");
      send({ t: "event", name: element.getAttribute("phx-click"), value: value });
    }
  });

  // -- the invite link's copy button --------------------------------------------
  const copy = document.getElementById("copy-invite");
  if (copy) {
    copy.addEventListener("click", function () {
      const field = document.getElementById(copy.dataset.copy);
      field.select();
      const copied = function () {
        copy.textContent = "Copied";
        setTimeout(function () { copy.textContent = "Copy"; }, 2000);
      };
      const fallback = function () { if (document.execCommand("copy")) copied(); };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(field.value).then(copied, fallback);
      } else {
        fallback();
      }
    });
  }

  setStatus("connecting...");
  connect();
})();
