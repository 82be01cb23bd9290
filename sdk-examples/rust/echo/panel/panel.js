// The echo plugin's dashboard panel. It runs in a sandboxed frame (an
// origin of its own) and reaches the daemon only with the token the
// dashboard hands it, which is scoped to this plugin.
"use strict";

const token = new URLSearchParams(location.hash.slice(1)).get("token");
// The document URL's origin (the frame itself runs in an opaque one).
const api = location.origin;

function report(status, detail) {
  parent.postMessage({ panel: "echo", status, detail }, "*");
}

async function call(text) {
  const response = await fetch(`${api}/v1/tools/echo.echo/call`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: JSON.stringify({ arguments: { text } }),
  });
  const body = await response.json();
  if (!response.ok) throw new Error(`${response.status} ${body.code}: ${body.message}`);
  return body.content;
}

async function refusedElsewhere() {
  // The panel's token must not reach beyond its plugin.
  const response = await fetch(`${api}/v1/plugins/kv/reload`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}` },
  });
  return response.status;
}

async function start() {
  try {
    const answer = await call("hello from the panel");
    document.getElementById("answer").textContent = answer;
    const elsewhere = await refusedElsewhere();
    report(elsewhere === 403 ? "ok" : "too-wide", `answer=${answer} elsewhere=${elsewhere}`);
  } catch (e) {
    document.getElementById("answer").textContent = String(e);
    report("failed", String(e));
  }
}

document.getElementById("say").addEventListener("submit", async (event) => {
  event.preventDefault();
  const text = document.getElementById("text").value;
  try {
    document.getElementById("answer").textContent = await call(text);
  } catch (e) {
    document.getElementById("answer").textContent = String(e);
  }
});

start();
