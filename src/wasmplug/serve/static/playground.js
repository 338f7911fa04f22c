// The playground page: find exports, run a snippet, show the result, share by link, deploy.
// Served from our origin under a strict CSP: no inline script, no eval, nothing from elsewhere.
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const root = $("playground");
  const MAX_FRAGMENT = 32768;        // characters of "#s=..." we make or read
  const MAX_SHARED_JSON = 1048576;   // bytes a shared snippet may inflate to
  const HEX_SHOWN = 4096;            // bytes of a binary output shown as hex
  let wasmBytes = null;              // the chosen .wasm (Uint8Array)
  let wantedExport = "";             // an export to pick once the list is known (from a shared link)
  let stale = true;                  // the code changed since its exports were listed

  const kind = () => ($("kind-wasm").checked ? "wasm" : "js");

  function setKind(value) {
    $("kind-js").checked = value === "js";
    $("kind-wasm").checked = value === "wasm";
    $("js-pane").hidden = value !== "js";
    $("wasm-pane").hidden = value !== "wasm";
  }

  function toBase64(bytes) {
    let text = "";
    for (let i = 0; i < bytes.length; i += 0x8000) {
      text += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
    }
    return btoa(text);
  }

  function fromBase64(text) {
    const raw = atob(text);
    const bytes = new Uint8Array(raw.length);
    for (let i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
    return bytes;
  }

  function sourceFields() {
    if (kind() === "wasm") {
      if (!wasmBytes) throw new Error("choose a .wasm file first");
      return { kind: "wasm", wasm_base64: toBase64(wasmBytes) };
    }
    return { kind: "js", source: $("code").value };
  }

  function parseConfig(text) {
    const config = {};
    for (const raw of text.split("\n")) {
      const line = raw.replace(/\r$/, "");
      if (!line.trim() || line.trim().startsWith("#")) continue;
      const at = line.indexOf("=");
      const key = at < 0 ? "" : line.slice(0, at).trim();
      if (!key) throw new Error(`config line "${line.slice(0, 40)}" is not key=value`);
      config[key] = line.slice(at + 1);  // the value as written, spaces included
    }
    return config;
  }

  async function postJSON(url, body) {
    const response = await fetch(url, {
      method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body),
    });
    let data = null;
    try { data = await response.json(); } catch (e) { data = null; }
    if (!response.ok) {
      const message = data && data.error ? data.error : `the server answered ${response.status}`;
      const error = new Error(message);
      error.kind = data && data.kind ? data.kind : "http";
      throw error;
    }
    return data;
  }

  function showError(message, kindName) {
    $("result").dataset.state = "error";
    $("status").textContent = kindName ? `failed: ${kindName}` : "failed";
    $("error").textContent = message;
    $("error").hidden = false;
  }

  function fillExports(names) {
    const select = $("export");
    const previous = wantedExport || select.value;
    select.replaceChildren(...names.map((name) => {
      const option = document.createElement("option");
      option.value = name;
      option.textContent = name;
      return option;
    }));
    if (names.includes(previous)) select.value = previous;
    wantedExport = "";
  }

  async function findExports() {
    const data = await postJSON("/playground/exports", sourceFields());
    fillExports(data.exports);
    stale = false;
    return data.exports;
  }

  function formatBytes(n) {
    if (n === null || n === undefined) return "–";
    if (n < 1024) return `${n} B`;
    if (n < 1048576) return `${(n / 1024).toFixed(1)} KiB`;
    return `${(n / 1048576).toFixed(1)} MiB`;
  }

  function hexDump(bytes) {
    const lines = [];
    const shown = Math.min(bytes.length, HEX_SHOWN);
    for (let at = 0; at < shown; at += 16) {
      const row = Array.from(bytes.subarray(at, Math.min(at + 16, shown)),
        (b) => b.toString(16).padStart(2, "0"));
      lines.push(`${at.toString(16).padStart(8, "0")}  ${row.join(" ")}`);
    }
    if (bytes.length > shown) lines.push(`… ${bytes.length - shown} more bytes`);
    return lines.join("\n");
  }

  function showResult(data) {
    $("result").dataset.state = data.ok ? "ok" : "error";
    $("status").textContent = data.ok ? "ok" : `failed: ${data.kind}`;
    $("duration").textContent = `${data.duration_ms.toFixed(2)} ms`;
    $("memory").textContent = formatBytes(data.memory_bytes);
    $("fuel").textContent = data.fuel_used === null ? "–" : data.fuel_used.toLocaleString("en");
    $("output-size").textContent = formatBytes(data.output_bytes);
    $("error").hidden = data.ok;
    $("error").textContent = data.ok ? "" : data.error;
    if (data.output !== null) {
      $("output").textContent = data.output;
      $("output-format").textContent = data.output_bytes ? "text (UTF-8)" : "";
    } else {
      $("output").textContent = hexDump(fromBase64(data.output_base64));
      $("output-format").textContent = "not UTF-8: shown as hex";
    }
    $("logs").replaceChildren(...data.logs.map((line) => {
      const item = document.createElement("li");
      item.className = `log-${line.level}`;
      const level = document.createElement("span");
      level.className = "level";
      level.textContent = line.level;
      item.append(level, document.createTextNode(line.text));
      return item;
    }));
    $("logs-dropped").textContent = data.logs_dropped ? `(${data.logs_dropped} more lines not kept)` : "";
  }

  async function run() {
    $("run").disabled = true;
    $("result").dataset.state = "running";
    $("status").textContent = "running…";
    try {
      if (stale || !$("export").value) await findExports();
      const body = {
        ...sourceFields(), export: $("export").value, input: $("input").value,
        config: parseConfig($("config").value),
      };
      showResult(await postJSON("/playground/run", body));
    } catch (error) {
      showError(error.message, error.kind);
    } finally {
      $("run").disabled = false;
    }
  }

  // -- sharing: the snippet, deflated and base64url-encoded, in the URL fragment ----------------
  function base64url(bytes) {
    return toBase64(bytes).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  async function pump(stream, limit) {
    const reader = stream.getReader();
    const parts = [];
    let size = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.length;
      if (size > limit) {
        await reader.cancel();
        throw new Error("the shared snippet is too large");
      }
      parts.push(value);
    }
    const out = new Uint8Array(size);
    let at = 0;
    for (const part of parts) { out.set(part, at); at += part.length; }
    return out;
  }

  async function deflate(bytes) {
    const stream = new Blob([bytes]).stream().pipeThrough(new CompressionStream("deflate-raw"));
    return pump(stream, MAX_FRAGMENT);
  }

  async function inflate(bytes) {
    const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("deflate-raw"));
    return pump(stream, MAX_SHARED_JSON);
  }

  async function share() {
    const note = $("share-note");
    if (kind() !== "js") {
      note.textContent = "Only JavaScript snippets can be shared by link (a module is not stored anywhere).";
      return;
    }
    const snippet = { v: 1, code: $("code").value, export: $("export").value, input: $("input").value,
      config: $("config").value };
    let encoded;
    try {
      encoded = base64url(await deflate(new TextEncoder().encode(JSON.stringify(snippet))));
    } catch (error) {
      encoded = "";
    }
    if (!encoded || encoded.length + 3 > MAX_FRAGMENT) {
      note.textContent = "This snippet is too large to share by link.";
      return;
    }
    history.replaceState(null, "", `#s=${encoded}`);
    const field = $("share-url");
    field.value = location.href;
    field.hidden = false;
    field.select();
    note.textContent = "Link ready: copy it from the box.";
    if (navigator.clipboard) navigator.clipboard.writeText(location.href).catch(() => {});
  }

  async function restore() {
    const hash = location.hash;
    if (!hash.startsWith("#s=")) return;
    const note = $("share-note");
    try {
      if (hash.length > MAX_FRAGMENT) throw new Error("the link is too long");
      const text = hash.slice(3).replace(/-/g, "+").replace(/_/g, "/");
      const json = new TextDecoder().decode(await inflate(fromBase64(text)));
      const snippet = JSON.parse(json);
      if (!snippet || snippet.v !== 1 || typeof snippet.code !== "string") throw new Error("not a snippet");
      const text_ = (value) => (typeof value === "string" ? value : "");
      setKind("js");
      $("code").value = snippet.code;
      $("input").value = text_(snippet.input);
      $("config").value = text_(snippet.config);
      wantedExport = text_(snippet.export);
      $("export").replaceChildren();
      note.textContent = "Snippet restored from the link.";
      await findExports().catch((error) => showError(error.message, error.kind));
    } catch (error) {
      note.textContent = `This link does not hold a snippet (${error.message}).`;
    }
  }

  // -- deploying: PUT /api/functions/{name} (multipart: module + settings) ----------------------
  async function deploy(event) {
    event.preventDefault();
    const out = $("deploy-result");
    out.hidden = false;
    out.className = "";
    out.textContent = "Deploying…";
    const name = $("deploy-name").value.trim();
    try {
      const form = new FormData();
      if (kind() === "wasm") {
        if (!wasmBytes) throw new Error("choose a .wasm file first");
        form.append("module", new Blob([wasmBytes], { type: "application/wasm" }), "module.wasm");
      } else {
        form.append("module", new Blob([$("code").value], { type: "text/javascript" }), "function.js");
      }
      const settings = { config: parseConfig($("config").value), public: $("deploy-public").checked };
      form.append("settings", JSON.stringify(settings));  // a field: the API takes one file, the module
      const response = await fetch(`/api/functions/${encodeURIComponent(name)}`, {
        method: "PUT", headers: { authorization: `Bearer ${$("deploy-token").value}` }, body: form,
      });
      let data = null;
      try { data = await response.json(); } catch (e) { data = null; }
      if (!response.ok) {
        throw new Error(data && data.error ? data.error : `the server answered ${response.status}`);
      }
      const exportName = $("export").value || (data.exports && data.exports[0]) || "";
      const href = `/f/${encodeURIComponent(data.name)}/${encodeURIComponent(exportName)}`;
      const link = document.createElement("a");
      link.id = "deploy-link";
      link.href = href;
      link.textContent = `POST ${href}`;
      const sha = String(data.sha256 || "").slice(0, 12);
      out.className = "deployed";
      out.replaceChildren(document.createTextNode(`Deployed ${data.name}, version ${data.version} (${sha}): `),
        link);
    } catch (error) {
      out.className = "error";
      out.textContent = `Not deployed: ${error.message}`;
    }
  }

  // -- the editor's feel: Tab indents, Ctrl/Cmd+Enter runs -------------------------------------
  function editorKeys(event) {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      run();
    } else if (event.key === "Tab" && !event.shiftKey && event.target.id === "code") {
      event.preventDefault();
      event.target.setRangeText("  ", event.target.selectionStart, event.target.selectionEnd, "end");
    }
  }

  async function chooseWasm() {
    const file = $("wasm-file").files[0];
    wasmBytes = null;
    $("export").replaceChildren();
    if (!file) return;
    if (file.size > Number(root.dataset.maxWasm)) {
      showError(`the module is ${file.size} bytes; at most ${root.dataset.maxWasm}`, "input");
      return;
    }
    wasmBytes = new Uint8Array(await file.arrayBuffer());
    stale = true;
    await findExports().catch((error) => showError(error.message, error.kind));
  }

  for (const radio of document.querySelectorAll("input[name=kind]")) {
    radio.addEventListener("change", () => { setKind(kind()); stale = true; $("export").replaceChildren(); });
  }
  $("code").addEventListener("input", () => { stale = true; });
  $("build").addEventListener("click", () => findExports().catch((e) => showError(e.message, e.kind)));
  $("run").addEventListener("click", run);
  $("share").addEventListener("click", share);
  $("deploy").addEventListener("submit", deploy);
  $("wasm-file").addEventListener("change", chooseWasm);
  for (const id of ["code", "input", "config"]) $(id).addEventListener("keydown", editorKeys);
  window.addEventListener("hashchange", restore);
  restore().finally(() => { root.dataset.ready = "1"; });
})();
