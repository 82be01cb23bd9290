// The plugwire dashboard. It keeps the token in this tab's session
// storage (never in a cookie: nothing here is sent without being asked),
// reads everything through the management API, and writes plugin text
// into the page as text, never as markup.
"use strict";

const $ = (id) => document.getElementById(id);
let token = null;
let selected = null;

function takeToken() {
  const fromHash = new URLSearchParams(location.hash.slice(1)).get("token");
  if (fromHash) {
    sessionStorage.setItem("plugwire-token", fromHash);
    // Out of the address bar and the history.
    history.replaceState(null, "", location.pathname);
  }
  return sessionStorage.getItem("plugwire-token");
}

async function api(method, path, body) {
  const response = await fetch(path, {
    method,
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  const value = text ? JSON.parse(text) : null;
  if (!response.ok) {
    const error = new Error(value && value.message ? value.message : `HTTP ${response.status}`);
    error.status = response.status;
    error.hint = value && value.hint;
    throw error;
  }
  return value;
}

function cell(text) {
  const td = document.createElement("td");
  td.textContent = text === null || text === undefined ? "-" : String(text);
  return td;
}

function mib(bytes) {
  return bytes === null || bytes === undefined ? "-" : `${(bytes / 1048576).toFixed(1)} MiB`;
}

function button(label, action, plugin) {
  const b = document.createElement("button");
  b.textContent = label;
  b.dataset.action = action;
  b.dataset.plugin = plugin;
  b.addEventListener("click", (event) => {
    event.stopPropagation();
    act(action, plugin);
  });
  return b;
}

async function act(action, plugin) {
  $("message").textContent = `${action} ${plugin}…`;
  try {
    const status = await api("POST", `/v1/plugins/${encodeURIComponent(plugin)}/${action}`);
    $("message").textContent = `${action}: ${plugin} is ${status.state}`;
  } catch (e) {
    $("message").textContent = `${action} ${plugin}: ${e.message}${e.hint ? ` (${e.hint})` : ""}`;
  }
  await refresh();
}

function renderPlugins(list) {
  const body = $("plugins").querySelector("tbody");
  body.replaceChildren();
  for (const p of list.plugins) {
    const tr = document.createElement("tr");
    tr.dataset.plugin = p.name;
    tr.dataset.state = p.state;
    tr.append(
      cell(p.name),
      cell(p.version),
      cell(p.state),
      cell(p.pid),
      cell(mib(p.memory_bytes)),
      cell(p.cpu_ms === null ? null : `${(p.cpu_ms / 1000).toFixed(2)} s`),
      cell(p.calls),
      cell(p.errors),
      cell(p.last_error ? p.last_error.split("\n")[0] : ""),
    );
    tr.querySelector("td:nth-child(3)").className = `state state-${p.state}`;
    tr.querySelector("td:nth-child(4)").className = "pid";
    const actions = document.createElement("td");
    actions.append(button("Reload", "reload", p.name));
    actions.append(p.enabled ? button("Disable", "disable", p.name) : button("Enable", "enable", p.name));
    tr.append(actions);
    tr.addEventListener("click", () => showDetail(p.name));
    body.append(tr);
  }
}

function list(id, items) {
  const ul = $(id);
  ul.replaceChildren();
  for (const text of items) {
    const li = document.createElement("li");
    li.textContent = text;
    ul.append(li);
  }
  if (!items.length) ul.append(Object.assign(document.createElement("li"), { textContent: "none" }));
}

async function showDetail(name) {
  selected = name;
  const [detail, logs] = await Promise.all([
    api("GET", `/v1/plugins/${encodeURIComponent(name)}`),
    api("GET", `/v1/logs?plugin=${encodeURIComponent(name)}`),
  ]);
  $("detail").hidden = false;
  $("detail-title").textContent = `${detail.status.name} ${detail.status.version}`;
  list("detail-tools", detail.tools.map((t) => `${t.qualified}: ${t.description}`));
  list("detail-commands", detail.commands.map((c) => `${c.name}: ${c.short}`));
  $("detail-logs").textContent = logs
    .slice(-50)
    .map((l) => `${new Date(l.time_ms).toISOString().slice(11, 23)} ${l.level.toUpperCase()} ${l.message}`)
    .join("\n");
}

async function renderPanels() {
  const panels = await api("GET", "/v1/panels");
  const box = $("panels");
  const shown = new Set([...box.children].map((c) => c.dataset.panel));
  for (const panel of panels) {
    if (shown.has(panel.plugin)) continue;
    const { token: panelToken } = await api("POST", `/v1/panels/${encodeURIComponent(panel.plugin)}/token`);
    const figure = document.createElement("figure");
    figure.dataset.panel = panel.plugin;
    figure.dataset.status = "loading";
    const caption = document.createElement("figcaption");
    caption.textContent = panel.title;
    const frame = document.createElement("iframe");
    // Scripts only: no same-origin (the panel gets an origin of its own),
    // no top navigation, no popups.
    frame.setAttribute("sandbox", "allow-scripts allow-forms");
    frame.setAttribute("referrerpolicy", "no-referrer");
    frame.title = panel.title;
    frame.src = `${panel.url}#token=${encodeURIComponent(panelToken)}`;
    figure.append(caption, frame);
    box.append(figure);
  }
  if (!panels.length && !box.children.length) box.textContent = "No plugin contributes a panel.";
}

window.addEventListener("message", (event) => {
  const figure = [...$("panels").children].find((f) => f.querySelector("iframe")?.contentWindow === event.source);
  if (!figure || typeof event.data !== "object" || event.data === null) return;
  figure.dataset.status = String(event.data.status);
  figure.dataset.detail = String(event.data.detail ?? "");
});

async function refresh() {
  const [health, plugins] = await Promise.all([api("GET", "/v1/health"), api("GET", "/v1/plugins")]);
  $("daemon").textContent = `daemon ${health.version}, pid ${health.pid}: ${health.ready} of ${health.plugins} ready`;
  renderPlugins(plugins);
  if (selected) await showDetail(selected);
}

async function start() {
  token = takeToken();
  if (!token) {
    $("login").hidden = false;
    return;
  }
  try {
    await refresh();
  } catch (e) {
    sessionStorage.removeItem("plugwire-token");
    $("login").hidden = false;
    $("main").hidden = true;
    $("login-error").textContent = `${e.message}${e.hint ? ` (${e.hint})` : ""}`;
    return;
  }
  $("login").hidden = true;
  $("main").hidden = false;
  await renderPanels();
  setInterval(() => refresh().catch((e) => ($("message").textContent = e.message)), 2000);
}

$("login-form").addEventListener("submit", (event) => {
  event.preventDefault();
  sessionStorage.setItem("plugwire-token", $("login-token").value.trim());
  start();
});

start();
