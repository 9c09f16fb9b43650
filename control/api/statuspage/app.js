// vecd's status page: reads the control API every second with the token
// typed into the login form (sent in the Authorization header, kept in
// this tab's sessionStorage, never in a URL) and draws services, servers,
// workers, the HA role and the manager's last decision. Rates are computed
// here from counter deltas.
"use strict";

const POLL_MS = 1000;
const HISTORY = 300; // sparkline points: five minutes at one per second
const MIN_SPAN = 30; // the sparkline's narrowest time axis, in points
const TOKEN_KEY = "vecd-status-token";

let token = sessionStorage.getItem(TOKEN_KEY) || "";
let role = "";
let timer = 0;
let prev = null; // {at, servers: Map key→ServerCounters, cores: Map core→CoreCounters}
let tableCapacity = 0;
let polls = 0; // rendered polls, in document.body.dataset.polls for tests
const history = new Map(); // server key → new conn/s samples
const rows = new Map(); // server key → <tr>
const $ = (id) => document.getElementById(id);

async function api(method, path, body) {
  const opts = { method, headers: { Authorization: "Bearer " + token }, cache: "no-store" };
  if (body !== undefined) {
    opts.headers["Content-Type"] = "application/json";
    opts.body = JSON.stringify(body);
  }
  const r = await fetch(path, opts);
  const data = await r.json().catch(() => ({}));
  if (!r.ok) {
    const e = new Error((data.error && data.error.message) || r.status + " " + r.statusText);
    e.status = r.status;
    throw e;
  }
  return data;
}

function say(text, isError) {
  $("message").textContent = text;
  $("message").className = isError ? "error" : "";
}

async function login(t) {
  token = t;
  try {
    const me = await api("GET", "/v1/whoami");
    role = me.role;
    sessionStorage.setItem(TOKEN_KEY, token);
    $("who").textContent = "Logged in as " + me.name + " (" + me.role + ")";
    document.body.dataset.role = me.role;
    $("login").hidden = true;
    $("logout").hidden = false;
    $("live").hidden = false;
    say("");
    await readCapacity();
    await poll();
  } catch (e) {
    logout();
    say("Login failed: " + e.message, true);
  }
}

function logout() {
  clearTimeout(timer);
  token = role = "";
  sessionStorage.removeItem(TOKEN_KEY);
  prev = null;
  history.clear();
  rows.clear();
  $("services").replaceChildren();
  document.querySelector("#workers tbody").replaceChildren();
  delete document.body.dataset.role;
  $("who").textContent = "";
  $("login").hidden = false;
  $("logout").hidden = true;
  $("live").hidden = true;
}

// readCapacity takes the per-worker table capacity from the configuration,
// for the table fill.
async function readCapacity() {
  try {
    const cfg = await api("GET", "/v1/config");
    const m = /^\s*table_capacity:\s*(\d+)/m.exec(cfg.yaml || "");
    tableCapacity = m ? Number(m[1]) : 0;
  } catch (e) {
    tableCapacity = 0;
  }
}

// optional reads an endpoint a gateway may not have (404: not configured).
async function optional(path) {
  try {
    return await api("GET", path);
  } catch (e) {
    if (e.status === 404) return null;
    throw e;
  }
}

async function poll() {
  clearTimeout(timer);
  try {
    const [counters, ha, mgr, bgp] = await Promise.all([api("GET", "/v1/counters"), optional("/v1/ha"), optional("/v1/manager"),
      optional("/v1/bgp")]);
    render(counters, ha, mgr, performance.now());
    renderBGP(bgp);
    if ($("message").className === "error" && $("message").dataset.source === "poll") say("");
  } catch (e) {
    if (e.status === 401) {
      logout();
      say("The token is no longer accepted: " + e.message, true);
      return;
    }
    say("Reading the API failed: " + e.message, true);
    $("message").dataset.source = "poll";
  }
  if (token) timer = setTimeout(poll, POLL_MS);
}

const key = (s) => s.vip + "/" + s.service + "/" + s.server;

function rate(now, before, dt) {
  if (before === undefined || dt <= 0 || now < before) return null;
  return (now - before) / dt;
}

const fmtRate = (r) => (r === null ? "–" : r < 10 ? r.toFixed(1) : Math.round(r).toString());
const fmtInt = (n) => Number(n).toLocaleString("en-US");

function fmtBytes(n) {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return (i === 0 ? n : n.toFixed(1)) + " " + units[i];
}

// downReasons maps server keys ("vip/service/server") to why an advisor
// holds them down.
function downReasons(mgr) {
  const out = new Map();
  if (!mgr || !mgr.advisors) return out;
  for (const a of mgr.advisors) {
    for (const s of a.servers || []) {
      if (!s.up) {
        // VIP:SERVICE: a service name has no colon, an IPv6 VIP several.
        const at = a.service.lastIndexOf(":");
        const svc = a.service.slice(0, at) + "/" + a.service.slice(at + 1);
        out.set(svc + "/" + s.server, a.name + ": " + (s.last_error || "probe failed"));
      }
    }
  }
  return out;
}

function stateOf(s, down) {
  if (s.draining) return ["draining", "draining (removed, connections finishing)"];
  if (down.has(key(s))) return ["down", "down: " + down.get(key(s))];
  if (s.quiesced) return ["quiesced", "quiesced (no new connections)"];
  if (s.effective_weight === 0) return ["quiesced", "weight 0 (no new connections)"];
  return ["serving", "serving"];
}

function render(st, ha, mgr, at) {
  const dt = prev ? (at - prev.at) / 1000 : 0;
  const down = downReasons(mgr);
  const seen = new Set();
  for (const s of st.servers) {
    const k = key(s);
    seen.add(k);
    const before = prev && prev.servers.get(k);
    const r = rate(s.new, before && before.new, dt);
    const h = history.get(k) || [];
    if (r !== null) {
      h.push(r);
      if (h.length > HISTORY) h.shift();
    }
    history.set(k, h);
    const row = rows.get(k) || addRow(s);
    const [cls, words] = stateOf(s, down);
    row.className = cls;
    row.dataset.state = cls;
    setCell(row, "state", words);
    setCell(row, "weight", s.weight);
    setCell(row, "effective", s.effective_weight);
    setCell(row, "newrate", fmtRate(r));
    setCell(row, "new", s.new);
    setCell(row, "active", s.active);
    setCell(row, "fin", s.fin);
    setCell(row, "packets", s.packets);
    setCell(row, "bytes", s.bytes, fmtBytes(s.bytes));
    drawSpark(row.querySelector("svg.spark"), h);
    const q = row.querySelector("button.quiesce");
    if (q) {
      q.textContent = s.quiesced ? "Resume" : "Quiesce";
      q.hidden = s.draining;
    }
  }
  for (const [k, row] of rows) {
    if (!seen.has(k)) {
      row.remove();
      rows.delete(k);
      history.delete(k);
    }
  }
  for (const tb of document.querySelectorAll("#services tbody")) {
    if (!tb.children.length) tb.closest("section.service").remove();
  }
  renderWorkers(st.cores, dt);
  renderHA(ha);
  renderManager(mgr);
  prev = { at, servers: new Map(st.servers.map((s) => [key(s), s])), cores: new Map(st.cores.map((c) => [c.core, c])) };
  document.body.dataset.polls = String(++polls);
  $("updated").textContent = "Generation " + st.generation + ", updated " + new Date().toLocaleTimeString();
}

function setCell(row, field, value, text) {
  const td = row.querySelector('td[data-field="' + field + '"]');
  td.dataset.value = String(value);
  td.textContent = text === undefined ? (typeof value === "number" ? fmtInt(value) : String(value)) : text;
}

const COLUMNS = [
  ["server", "server"], ["ip", "IP"], ["state", "state"], ["weight", "weight configured"], ["effective", "weight current"],
  ["newrate", "new conn/s"], ["spark", "new conn/s (up to 5 min)"], ["new", "new total"], ["active", "active"],
  ["fin", "FIN"], ["packets", "packets"], ["bytes", "bytes"],
];

function serviceTable(s) {
  const id = "svc-" + s.vip + "-" + s.service;
  let sec = document.querySelector('section.service[data-id="' + CSS.escape(id) + '"]');
  if (sec) return sec.querySelector("tbody");
  sec = document.createElement("section");
  sec.className = "service";
  sec.dataset.id = id;
  const h = document.createElement("h3");
  h.textContent = s.vip + " " + s.service + " (" + s.protocol + "/" + s.port + ")";
  const wrap = document.createElement("div");
  wrap.className = "scroll";
  const table = document.createElement("table");
  table.className = "servers";
  const head = table.createTHead().insertRow();
  const cols = role === "admin" ? COLUMNS.concat([["actions", "actions"]]) : COLUMNS;
  for (const [field, label] of cols) {
    const th = document.createElement("th");
    th.dataset.field = field;
    th.textContent = label;
    head.appendChild(th);
  }
  table.createTBody();
  wrap.appendChild(table);
  sec.append(h, wrap);
  $("services").appendChild(sec);
  return table.tBodies[0];
}

function addRow(s) {
  const tr = serviceTable(s).insertRow();
  tr.dataset.key = key(s);
  for (const [field, label] of COLUMNS) {
    const td = tr.insertCell();
    td.dataset.field = field;
    td.dataset.label = label;
    if (field === "server") td.textContent = s.server;
    if (field === "ip") td.textContent = s.ip;
    if (field === "state") td.className = "state";
    if (field === "spark") {
      const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
      svg.setAttribute("class", "spark");
      svg.setAttribute("preserveAspectRatio", "none");
      svg.setAttribute("role", "img");
      svg.appendChild(document.createElementNS("http://www.w3.org/2000/svg", "polyline"));
      td.appendChild(svg);
    }
  }
  // Action controls exist only for an admin token: a read-only one has
  // nothing to click (and the API would refuse it anyway).
  if (role === "admin") tr.appendChild(actionsCell(s));
  rows.set(key(s), tr);
  return tr;
}

function serverPath(s) {
  return "/v1/clusters/" + encodeURIComponent(s.vip) + "/services/" + encodeURIComponent(s.service) +
    "/servers/" + encodeURIComponent(s.server);
}

function actionsCell(s) {
  const td = document.createElement("td");
  td.className = "actions";
  td.dataset.label = "actions";
  const name = s.vip + " " + s.service + " " + s.server;
  const q = document.createElement("button");
  q.type = "button";
  q.className = "quiesce";
  q.addEventListener("click", () => {
    const on = q.textContent === "Quiesce";
    if (!confirm((on ? "Quiesce " : "Resume ") + name + "?")) return;
    act(serverPath(s) + (on ? "/quiesce" : "/unquiesce"), "POST", undefined, (on ? "Quiesced " : "Resumed ") + name);
  });
  const w = document.createElement("input");
  w.type = "number";
  w.min = "0";
  w.className = "weight";
  w.setAttribute("aria-label", "new weight for " + name);
  w.value = String(s.weight);
  const set = document.createElement("button");
  set.type = "button";
  set.className = "set-weight";
  set.textContent = "Set weight";
  set.addEventListener("click", () => {
    const n = Number(w.value);
    if (!Number.isInteger(n) || n < 0) {
      say("The weight must be a whole number, 0 or more", true);
      return;
    }
    if (!confirm("Set the weight of " + name + " to " + n + "?")) return;
    act(serverPath(s), "PATCH", { weight: n }, "Weight of " + name + " set to " + n);
  });
  td.append(q, " ", w, " ", set);
  return td;
}

async function act(path, method, body, done) {
  try {
    const ch = await api(method, path, body);
    say(done + " (generation " + ch.generation + ")");
    $("message").dataset.source = "action";
    poll();
  } catch (e) {
    say("Refused: " + e.message, true);
    $("message").dataset.source = "action";
  }
}

function drawSpark(svg, h) {
  const max = Math.max(1, ...h);
  // The time axis grows with the history up to five minutes, newest
  // point on the right.
  const span = Math.max(MIN_SPAN, h.length);
  svg.setAttribute("viewBox", "0 0 " + (span - 1) + " 30");
  const off = span - h.length;
  const pts = h.map((v, i) => off + i + "," + (29 - (v / max) * 28).toFixed(1));
  svg.firstChild.setAttribute("points", pts.join(" "));
  const last = h.length ? h[h.length - 1] : 0;
  svg.setAttribute("aria-label", "new connections per second, last " + h.length + " s, peak " + fmtRate(max) + ", now " + fmtRate(last));
}

function renderWorkers(cores, dt) {
  const tb = document.querySelector("#workers tbody");
  const out = [];
  for (const c of cores) {
    const p = prev && prev.cores.get(c.core);
    const drops = Object.values(c.drops || {}).reduce((a, b) => a + b, 0);
    const pd = p ? Object.values(p.drops || {}).reduce((a, b) => a + b, 0) : undefined;
    const reasons = Object.entries(c.drops || {}).filter(([, n]) => n > 0).sort()
      .map(([r, n]) => r + ": " + fmtInt(n)).join(", ") || "none";
    const fill = tableCapacity ? (100 * c.entries / tableCapacity).toFixed(1) + " % (" + fmtInt(c.entries) + " of " + fmtInt(tableCapacity) + ")"
      : fmtInt(c.entries) + " entries";
    const tr = document.createElement("tr");
    tr.dataset.core = String(c.core);
    const cells = [String(c.core), c.mode || "active", fmtRate(rate(c.rx, p && p.rx, dt)), fmtRate(rate(c.tx, p && p.tx, dt)),
      fmtRate(rate(drops, pd, dt)), reasons, fill];
    const fields = ["core", "mode", "rxrate", "txrate", "droprate", "drops", "fill"];
    cells.forEach((text, i) => {
      const td = tr.insertCell();
      td.dataset.field = fields[i];
      td.textContent = text;
    });
    out.push(tr);
  }
  tb.replaceChildren(...out);
}

function renderHA(ha) {
  $("ha-section").hidden = !ha;
  if (!ha) return;
  let text = "Role: " + ha.role + (ha.node ? " (node " + ha.node + ")" : "");
  if (ha.active) text += "; active gateway: " + ha.active;
  text += "; term " + ha.term + "; takeovers: " + ha.takeovers;
  if (ha.takeovers) text += ", last took " + ha.last_takeover_ms.toFixed(1) + " ms";
  if (ha.unhealthy) text += "; unhealthy: " + ha.unhealthy;
  $("ha").textContent = text;
}

// renderBGP shows what this gateway announces to its routers (scale-out,
// docs/scale-out.md) and each BGP session's state; hidden without a bgp
// section.
function renderBGP(bgp) {
  $("bgp-section").hidden = !bgp;
  if (!bgp) return;
  let state = "announcing";
  if (bgp.drained) state = "drained: every VIP withdrawn";
  else if (!bgp.forwarding) state = "not forwarding: nothing announced";
  const announced = bgp.announced.length ? bgp.announced.join(", ") : "nothing";
  $("bgp").textContent = "AS " + bgp.local_as + ", next hop " + bgp.next_hop + "; " + state + "; announced: " + announced;
  const list = $("bgp-peers");
  list.replaceChildren(...bgp.peers.map((p) => {
    const li = document.createElement("li");
    li.dataset.peer = p.address;
    li.dataset.state = p.state;
    let text = "peer " + p.address + " (AS " + p.as + "): " + p.state;
    if (p.since) text += " since " + new Date(p.since).toLocaleTimeString();
    li.textContent = text;
    return li;
  }));
}

// renderManager shows the manager's last decision: when its last interval
// ran, and per service whether the computed weights went to the workers,
// each server's weight in force, the one computed and why.
function renderManager(mgr) {
  const on = Boolean(mgr && mgr.enabled);
  $("manager-section").hidden = !on;
  if (!on) return;
  const ran = mgr.at && !mgr.at.startsWith("0001-") ? new Date(mgr.at).toLocaleTimeString() : "not yet";
  let head = "Last interval: " + ran + ", every " + mgr.interval_s + " s";
  if (mgr.error) head += "; error: " + mgr.error;
  const lines = [[null, head]];
  for (const svc of mgr.services || []) {
    const servers = (svc.servers || []).map((s) => s.server + " " + s.weight + " → " + s.computed + " (" + s.reason + ")");
    lines.push([svc.service, svc.service + ": " + (svc.pushed ? "sent to the workers" : "not sent") + "; " + servers.join(", ")]);
  }
  $("manager").replaceChildren(...lines.map(([service, text]) => {
    const li = document.createElement("li");
    if (service) li.dataset.service = service;
    li.textContent = text;
    return li;
  }));
}

document.addEventListener("DOMContentLoaded", () => {
  $("login").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const t = $("token").value.trim();
    $("token").value = "";
    login(t);
  });
  $("logout").addEventListener("click", () => {
    logout();
    say("Logged out");
  });
  if (token) login(token);
});
