// The dashboard of `shoal run`: reads the JSON API every few seconds and the event
// stream live, and renders it. Every value reaches the page through textContent, never
// as HTML: names and messages come from desired-state and the engine.
"use strict";

const REFRESH_MS = 3000;
const MAX_EVENTS = 500;

// el("td", {class: "x"}, "text", child): an element with attributes and children.
function el(tag, attributes, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes || {})) {
    if (value !== undefined && value !== null && value !== false) node.setAttribute(name, value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

function byId(id) {
  return document.getElementById(id);
}

function replace(node, ...children) {
  node.replaceChildren(...children.flat().filter((c) => c !== null && c !== undefined));
}

// A state in words with a symbol: colour is never the only signal.
const TONES = {
  good: ["Synced", "Healthy", "ready", "active", "running", "healthy", "online", "mounted"],
  busy: ["Progressing", "healing", "pending", "starting", "preparing", "assigned", "accepted", "new", "Unknown", "unknown", "pause", "standby", "not started"],
};
function tone(word) {
  if (TONES.good.includes(word)) return "good";
  if (TONES.busy.includes(word)) return "busy";
  return "bad";
}
const SYMBOLS = { good: "\u2713", busy: "\u2026", bad: "\u2717" };
function badge(word, label) {
  const t = tone(word);
  return el("span", { class: `badge ${t}` },
    el("span", { "aria-hidden": "true" }, SYMBOLS[t] + " "), label || word);
}

function bytes(n) {
  if (n === null || n === undefined) return "?";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return `${n >= 10 || i === 0 ? Math.round(n) : n.toFixed(1)} ${units[i]}`;
}

function ago(iso) {
  if (!iso) return "never";
  const seconds = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
  if (seconds < 60) return `${seconds}s ago`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m ago`;
  if (seconds < 172800) return `${Math.floor(seconds / 3600)}h ago`;
  return `${Math.floor(seconds / 86400)}d ago`;
}

function time(iso) {
  return el("time", { datetime: iso, title: iso }, ago(iso));
}

async function getJson(path) {
  const answer = await fetch(path, { headers: { Accept: "application/json" } });
  if (!answer.ok) throw new Error(`${path}: ${answer.status} ${(await answer.text()).trim()}`);
  return answer.json();
}

// ---- revision and readiness ----

// Replaces a live region's content only when its text changes: a screen reader
// announces a region each time its content is replaced.
function replaceIfChanged(node, key, ...children) {
  if (node.dataset.shown === key) return;
  node.dataset.shown = key;
  replace(node, ...children);
}

function readiness(r) {
  const trouble = r.engine_error || r.events_error || r.lease_error;
  if (r.leader && !trouble) return ["ready", "acting", null];
  if (!r.leader && !trouble && r.lease_holder) return ["standby", `standby: the lease is held by ${r.lease_holder}`, null];
  return ["not ready", "not acting", trouble || "waiting for the lease"];
}

function renderStatus(status) {
  byId("identity").textContent = status.identity;
  const [word, label, why] = readiness(status.readiness);
  replaceIfChanged(byId("readiness"), `${word}|${label}|${why}`,
    badge(word, label), why ? el("span", {}, " " + why) : null);
  renderRevision(status);
  renderResources(status);
}

function renderRevision(status) {
  const s = status.source || {};
  const facts = [];
  const fact = (term, ...value) => facts.push(el("dt", {}, term), el("dd", {}, ...value));
  if (status.revision) fact("Commit", el("code", {}, status.revision.slice(0, 12)));
  if (s.commit) {
    fact("Subject", s.commit.subject);
    fact("Committed", time(s.commit.committed_at), ` by ${s.commit.author}`);
  }
  fact("Source", `${s.kind || "?"} ${s.location || ""}`, s.reference ? ` (${s.reference})` : "", s.path ? ` path ${s.path}` : "");
  fact(s.kind === "git" ? "Last fetch" : "Last read", time(s.last_fetch));
  fact("In force since", time(s.loaded_at));
  replace(byId("revision-facts"), facts);
  const error = byId("revision-error");
  const problem = status.readiness.source_error;
  error.hidden = !problem;
  replaceIfChanged(error, problem || "", problem ? [el("strong", {}, "The newest revision is not applied. "), el("pre", {}, problem)] : []);
}

function conditionText(resource) {
  return resource.conditions.map((c) => `${c.type}=${c.status ? "True" : "False"} ${c.reason}: ${c.message}`);
}

function renderResources(status) {
  const rows = status.resources.map((r) =>
    el("tr", { "data-resource": `${r.kind}/${r.name}` },
      el("td", {}, r.kind),
      el("th", { scope: "row" }, r.name),
      el("td", { class: "sync" }, badge(r.sync)),
      el("td", { class: "health" }, badge(r.health)),
      el("td", {}, r.drift),
      el("td", { class: "conditions" }, conditionText(r).map((t) => el("div", {}, t)))));
  replace(byId("resource-table").tBodies[0], rows);
  const healthy = status.resources.filter((r) => r.sync === "Synced" && r.health === "Healthy").length;
  byId("resources-summary").textContent =
    `${healthy} of ${status.desired} Synced and Healthy`;
  setOptions(byId("filter-resource"), status.resources.map((r) => `${r.kind}/${r.name}`));
}

// ---- nodes ----

function renderNodes(view) {
  byId("nodes-observed").textContent = view.observed_at ? `Observed ${ago(view.observed_at)}.` : "Not observed yet (a standby does not observe).";
  const ready = view.nodes.filter((n) => n.state === "ready").length;
  byId("nodes-summary").textContent = `${ready} of ${view.nodes.length} ready`;
  replace(byId("node-map"), view.nodes.map(nodeCard));
  replace(byId("unassigned"), view.unassigned.length
    ? [el("h3", {}, "Not placed on any node"), taskList(view.unassigned)] : []);
}

function nodeCard(node) {
  const role = node.role + (node.leader ? " (leader)" : "");
  return el("li", { class: `card node ${tone(node.state)}`, "data-node": node.hostname, "data-state": node.state },
    el("h3", {}, node.hostname, " ", badge(node.state), node.availability !== "active" ? [" ", badge(node.availability)] : null),
    el("p", { class: "muted" }, `${role} \u00b7 engine ${node.engine || "?"} \u00b7 ${node.address || "no address"}`),
    memory(node),
    node.at_risk ? el("p", { class: "warning" }, el("strong", {}, "Capacity at risk: "), node.at_risk) : null,
    node.tasks.length ? taskList(node.tasks) : el("p", { class: "muted" }, "No tasks."));
}

function memory(node) {
  if (node.memory_bytes === null) return null;
  const total = node.memory_bytes;
  const declared = node.memory_declared ? " (declared)" : "";
  if (node.reserved_bytes === null) return el("p", {}, `Memory ${bytes(total)}${declared}`);
  const percent = (n) => Math.min(100, Math.round((100 * n) / Math.max(total, 1)));
  return el("div", { class: "memory" },
    el("p", {}, `Memory ${bytes(total)}${declared}: reserved ${bytes(node.reserved_bytes)}, limits ${bytes(node.limited_bytes)}`),
    el("meter", { min: "0", max: "100", value: String(percent(node.reserved_bytes)), "aria-label": `${node.hostname} memory reserved` }),
    el("meter", { min: "0", max: "100", high: "99", value: String(percent(node.limited_bytes)), "aria-label": `${node.hostname} memory limits` }));
}

function taskList(tasks) {
  return el("ul", { class: "tasks" }, tasks.map((t) => {
    const name = t.slot === null ? t.service : `${t.service}.${t.slot}`;
    const leaving = t.desired_state !== "running" && t.desired_state !== "ready" ? ` \u2192 ${t.desired_state}` : "";
    return el("li", { "data-service": t.service, "data-state": t.state, title: t.message || "" },
      el("span", { class: "task-name" }, name), " ", badge(t.state, t.state + leaving),
      t.message && tone(t.state) === "bad" ? el("span", { class: "muted" }, ` ${t.message}`) : null);
  }));
}

// ---- storage ----

function renderVolumes(view) {
  byId("storage-observed").textContent = view.error ? `Gluster could not be read: ${view.error}` :
    view.observed_at ? `Observed ${ago(view.observed_at)}.` : "Not observed yet (a standby does not observe).";
  if (!view.observed_at) {
    replace(byId("volumes"));
    return;
  }
  if (!view.volumes.length) {
    replace(byId("volumes"), el("p", {}, "No GlusterVolume in desired-state."));
    return;
  }
  replace(byId("volumes"), view.volumes.map((v) =>
    el("article", { class: "card volume", "data-volume": v.name, "data-state": v.state },
      el("h3", {}, `GlusterVolume ${v.name} `, badge(v.state)),
      el("p", {}, `${v.heal_pending} entries pending heal, ${v.split_brain} in split-brain`),
      v.disconnected_peers.length ? el("p", { class: "warning" }, `Peers not connected: ${v.disconnected_peers.join(", ")}`) : null,
      table(["Brick", "Node", "State", "Pending heal", "Split-brain"], v.bricks.map((b) => [
        el("code", {}, b.brick), b.node,
        b.online === null ? "unknown" : [badge(b.online ? "online" : "offline"),
          b.online ? null : el("div", { class: "muted" }, b.status)],
        b.heal_pending ?? "?", b.split_brain ?? "?"]), "brick"),
      table(["Node", "Mount", "Detail"], v.mounts.map((m) => [
        m.node, badge(m.mounted === true ? "mounted" : m.mounted === false ? "not mounted" : "unknown", m.mounted === true ? "mounted" : m.mounted === false ? "not mounted" : "unknown"), m.detail]), "mount"),
      v.split_brain_files.length ? [el("h4", {}, "In split-brain"), el("ul", {}, v.split_brain_files.map((f) => el("li", {}, el("code", {}, f))))] : null)));
}

function table(headings, rows, kind) {
  return el("div", { class: "scroll" }, el("table", { class: kind },
    el("thead", {}, el("tr", {}, headings.map((h) => el("th", { scope: "col" }, h)))),
    el("tbody", {}, rows.map((cells) => el("tr", {}, cells.map((c) => el("td", {}, c)))))));
}

// ---- plan ----

function renderPlan(plan) {
  const s = plan.summary;
  byId("plan-summary").textContent =
    `${s.create} to create, ${s.update} to update, ${s.delete} to delete, ${s.replace} to replace, ${s.adopt} to adopt, ${s.blocked} blocked (observed ${ago(plan.observed_at)})`;
  if (!plan.changes.length) {
    replace(byId("plan-body"), el("p", {}, badge("Synced", "No changes. The swarm matches desired-state.")));
    return;
  }
  replace(byId("plan-body"), el("ul", { class: "changes" }, plan.changes.map((c) =>
    el("li", { "data-resource": `${c.kind}/${c.name}` },
      el("strong", {}, `${c.action} ${c.kind}/${c.name}`),
      c.restarts_tasks ? el("span", { class: "muted" }, " (restarts tasks)") : null,
      c.blocked ? el("p", { class: "warning" }, `Blocked: ${c.blocked}`) : null,
      el("ul", {}, c.fields.map((f) => el("li", {}, el("code", {}, f.path), `: ${f.from ?? "(unset)"} \u2192 ${f.to ?? "(unset)"}`)))))));
}

function renderPlanUnavailable(why) {
  byId("plan-summary").textContent = "";
  replace(byId("plan-body"), el("p", {}, why));
}

// ---- events ----

const events = new Map(); // id -> event, the newest last seen first when listed

// A list read while the stream ran may be older than what the stream sent.
function keep(event) {
  const known = events.get(event.id);
  if (known && known.count > event.count) return;
  events.set(event.id, event);
  if (events.size > MAX_EVENTS) {
    const oldest = [...events.values()].sort((a, b) => a.last_seen.localeCompare(b.last_seen))[0];
    events.delete(oldest.id);
  }
}

function renderEvents() {
  const resource = byId("filter-resource").value;
  const reason = byId("filter-reason").value;
  const warnings = byId("filter-warnings").checked;
  const all = [...events.values()].sort((a, b) => b.last_seen.localeCompare(a.last_seen) || b.id - a.id);
  setOptions(byId("filter-reason"), all.map((e) => e.reason));
  const shown = all.filter((e) => (!resource || e.resource === resource) &&
    (!reason || e.reason === reason) && (!warnings || e.warning));
  replace(byId("event-list"), shown.map(eventItem));
}

function eventItem(e) {
  return el("li", { class: e.warning ? "warning" : "", "data-reason": e.reason, "data-resource": e.resource || "" },
    time(e.last_seen), " ",
    el("strong", {}, e.warning ? `\u26a0 ${e.reason}` : e.reason), " ",
    e.resource ? el("span", { class: "resource" }, e.resource) : null,
    e.count > 1 ? el("span", { class: "count", title: `first seen ${e.first_seen}` }, ` \u00d7${e.count}`) : null,
    el("p", {}, e.message),
    fieldList(e.fields || []));
}

// A few fields are shown; a creation's dozens fold away behind their count.
const SHOWN_FIELDS = 4;
function fieldList(fields) {
  if (!fields.length) return null;
  const list = el("ul", { class: "fields" }, fields.map((f) =>
    el("li", {}, el("code", {}, f.path), `: desired ${f.desired ?? "(unset)"}, live ${f.live ?? "(unset)"}`)));
  return fields.length <= SHOWN_FIELDS ? list : el("details", {}, el("summary", {}, `${fields.length} fields`), list);
}

function setOptions(select, values) {
  const wanted = [...new Set(values)].sort();
  const have = [...select.options].slice(1).map((o) => o.value);
  if (wanted.join("\n") === have.join("\n")) return;
  const chosen = select.value;
  replace(select, el("option", { value: "" }, "all"), wanted.map((v) => el("option", { value: v }, v)));
  select.value = wanted.includes(chosen) ? chosen : "";
}

// The whole list again: on (re)connecting, the instance may be another process, whose
// event ids start over.
async function loadEvents() {
  const list = await getJson("/api/v1/events");
  events.clear();
  for (const event of list) keep(event);
  renderEvents();
}

function streamEvents() {
  const stream = new EventSource("/api/v1/events/stream");
  const state = byId("stream-state");
  stream.addEventListener("open", () => { state.textContent = "(live)"; loadEvents().catch(() => {}); });
  stream.addEventListener("error", () => { state.textContent = "(reconnecting)"; });
  stream.addEventListener("event", (message) => { keep(JSON.parse(message.data)); renderEvents(); });
  // Missed some: read the whole list again.
  stream.addEventListener("lagged", () => loadEvents().catch(() => {}));
}

// ---- refresh ----

// The plan only once there is an observation: before it (or on a standby) /plan answers
// 503, which a browser logs as an error.
async function refreshPlan() {
  const nodes = await getJson("/api/v1/nodes");
  renderNodes(nodes);
  if (nodes.observed_at) renderPlan(await getJson("/api/v1/plan"));
  else renderPlanUnavailable("No plan: nothing observed yet (a standby does not observe).");
}

async function refresh() {
  const results = await Promise.allSettled([
    getJson("/api/v1/status").then(renderStatus),
    getJson("/api/v1/volumes").then(renderVolumes),
    refreshPlan(),
  ]);
  const failed = results.filter((r) => r.status === "rejected");
  byId("updated").textContent = failed.length
    ? `with errors: ${failed.map((r) => r.reason.message).join("; ")}`
    : new Date().toLocaleTimeString();
}

async function loop() {
  await refresh().catch(() => {});
  setTimeout(loop, REFRESH_MS);
}

function start() {
  for (const id of ["filter-resource", "filter-reason", "filter-warnings"]) {
    byId(id).addEventListener("change", renderEvents);
  }
  byId("event-filter").addEventListener("submit", (e) => e.preventDefault());
  loop();
  streamEvents();
}

start();
