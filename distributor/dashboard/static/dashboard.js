// The live task table. The event stream's first message is the whole table, each later one
// only the tasks that changed; the table, the counts and the charts follow them without a
// reload. Text from the journal is only ever set as textContent, never parsed as markup.
"use strict";

const WORDS = {
  Q: "queued", I: "instantiated", O: "launched", R: "running", T: "triaging", D: "done",
  E: "error", F: "fatal error", K: "killed", U: "unknown error", W: "not submitted",
  X: "no heartbeat", Z: "resource error", waiting: "waiting for dependencies",
};
const CATEGORIES = ["waiting", "running", "done", "failed", "cancelled"];
const PAGE = 100;
const CHART_EVERY_MS = 2000;
const COLUMNS = [
  ["name", "name"], ["state", "state"], ["attempt", "attempt"], ["cluster", "cluster"],
  ["queue", "queue"], ["tags", "tags"], ["owner", "owner"], ["exit_code", "exit"],
  ["elapsed", "elapsed"], ["max_rss", "peak memory"], ["", ""], ["message", "message"],
];

const tasks = new Map();
const view = { sort: "id", desc: false, page: 0, state: "", owner: "", tag: "", name: "" };
const stats = {
  snapshots: 0, changes: 0, lastChangeSize: 0, firstRender: null, seq: 0, chartSeq: -1,
};
window.dashboardStats = stats;
let skew = 0;  // server clock minus ours, seconds
let renderPending = false;
let chartsAt = 0;
let chartTimer = null;

function category(t) {
  if (t.status !== "active") return t.status;
  return t.state === "R" || t.state === "T" ? "running" : "waiting";
}

function elapsed(t) {
  if (t.elapsed != null) return t.elapsed;
  if (t.started_at == null) return null;
  const end = t.ended_at != null ? t.ended_at : Date.now() / 1000 + skew;
  return Math.max(0, end - t.started_at);
}

function fmtSeconds(s) {
  if (s == null) return "";
  if (s < 60) return s.toFixed(1) + "s";
  const m = Math.floor(s / 60);
  if (m < 60) return m + "m" + String(Math.floor(s % 60)).padStart(2, "0") + "s";
  return Math.floor(m / 60) + "h" + String(m % 60).padStart(2, "0") + "m";
}

function fmtBytes(b) {
  if (b == null) return "";
  const units = [["TiB", 2 ** 40], ["GiB", 2 ** 30], ["MiB", 2 ** 20], ["KiB", 2 ** 10]];
  for (const [unit, size] of units) if (b >= size) return (b / size).toPrecision(3) + " " + unit;
  return b + " B";
}

function el(tag, text, cls) {
  const node = document.createElement(tag);
  if (text != null) node.textContent = String(text);
  if (cls) node.className = cls;
  return node;
}

function badge(state) {
  const cell = el("td", null, "st");
  const letter = state == null ? "none" : state;
  cell.dataset.state = letter;
  cell.append(el("span", state == null ? "–" : state === "waiting" ? "…" : state, "state s-" + letter));
  cell.append(state == null ? "not submitted yet" : (WORDS[state] || ""));
  return cell;
}

function sortValue(t, key) {
  if (key === "elapsed") return elapsed(t);
  if (key === "tags") return t.tags.join(",");
  if (key === "state") return (t.state || "") + category(t);
  return t[key];
}

function selected() {
  const needle = view.name.toLowerCase();
  const rows = [];
  for (const t of tasks.values()) {
    if (view.state && category(t) !== view.state && t.state !== view.state) continue;
    if (view.owner && t.owner !== view.owner) continue;
    if (view.tag && !t.tags.includes(view.tag)) continue;
    if (needle && !t.name.toLowerCase().includes(needle)) continue;
    rows.push(t);
  }
  if (view.sort === "id" && !view.desc) return rows;  // the table's own order (ids ascend)
  const sign = view.desc ? -1 : 1;
  rows.sort((a, b) => {
    const x = sortValue(a, view.sort), y = sortValue(b, view.sort);
    if (x === y || (x == null && y == null)) return a.id - b.id;
    if (x == null) return 1;
    if (y == null) return -1;
    return (x < y ? -1 : 1) * sign;
  });
  return rows;
}

function row(t) {
  const tr = el("tr");
  tr.dataset.name = t.name;
  tr.dataset.id = t.id;
  const name = el("td", null, "name");
  const link = el("a", t.name);
  link.href = "task?name=" + encodeURIComponent(t.name);
  name.append(link);
  tr.append(name, badge(t.state));
  tr.append(el("td", t.attempt + "/" + t.max_attempts, "num"), el("td", t.cluster),
            el("td", t.queue), el("td", t.tags.join(", ")), el("td", t.owner));
  tr.append(el("td", t.signal || (t.exit_code == null ? "" : t.exit_code), "num"));
  const time = el("td", fmtSeconds(elapsed(t)), "num elapsed");
  tr.append(time, el("td", fmtBytes(t.max_rss), "num"));
  const action = el("td");
  if (t.status === "active") {
    const button = el("button", t.cancel_requested ? "cancelling…" : "cancel", "cancel");
    button.disabled = t.cancel_requested;
    button.addEventListener("click", () => cancel([t.name], button));
    action.append(button);
  }
  tr.append(action, el("td", t.message, "message"));
  return tr;
}

function fillSelect(id, values, words) {
  const select = document.getElementById(id);
  const wanted = [""].concat(values);
  const have = Array.from(select.options).map((o) => o.value);
  if (have.join("\u0000") === wanted.join("\u0000")) return;
  const keep = select.value;
  select.replaceChildren();
  for (const value of wanted) {
    const text = value === "" ? "any" : words ? words(value) : value === "" ? "(none)" : value;
    const option = el("option", text);
    option.value = value;
    select.append(option);
  }
  select.value = wanted.includes(keep) ? keep : "";
}

function renderControls() {
  const counts = new Map(CATEGORIES.map((c) => [c, 0]));
  const letters = new Map();
  const owners = new Set(), tags = new Set();
  for (const t of tasks.values()) {
    counts.set(category(t), counts.get(category(t)) + 1);
    if (t.state) letters.set(t.state, (letters.get(t.state) || 0) + 1);
    owners.add(t.owner);
    for (const tag of t.tags) tags.add(tag);
  }
  const chips = document.getElementById("chips");
  chips.replaceChildren();
  const total = el("span", "tasks ", "chip");
  total.append(el("b", tasks.size));
  chips.append(total);
  for (const [name, count] of counts) {
    const chip = el("span", name + " ", "chip");
    chip.dataset.category = name;
    chip.append(el("b", count));
    chips.append(chip);
  }
  for (const letter of Array.from(letters.keys()).sort()) {
    const chip = el("span", null, "chip");
    chip.append(el("span", letter === "waiting" ? "…" : letter, "state s-" + letter),
                (WORDS[letter] || letter) + " ", el("b", letters.get(letter)));
    chips.append(chip);
  }
  const states = CATEGORIES.concat(Array.from(letters.keys()).filter((l) => l !== "waiting").sort());
  fillSelect("filter-state", states, (v) => (WORDS[v] && v.length === 1 ? v + " " + WORDS[v] : v));
  fillSelect("filter-owner", Array.from(owners).sort(), (v) => v || "(no owner)");
  fillSelect("filter-tag", Array.from(tags).sort(), null);
}

function renderTable() {
  const rows = selected();
  const pages = Math.max(1, Math.ceil(rows.length / PAGE));
  view.page = Math.min(view.page, pages - 1);
  const first = view.page * PAGE;
  const body = document.querySelector("#tasks tbody");
  const fragment = document.createDocumentFragment();
  for (const t of rows.slice(first, first + PAGE)) fragment.append(row(t));
  body.replaceChildren(fragment);
  document.getElementById("showing").textContent = rows.length
    ? `${first + 1}–${Math.min(first + PAGE, rows.length)} of ${rows.length}` +
      (rows.length !== tasks.size ? ` (${tasks.size} in all)` : "")
    : `no task matches (${tasks.size} in all)`;
  document.getElementById("prev").disabled = view.page === 0;
  document.getElementById("next").disabled = view.page >= pages - 1;
  for (const th of document.querySelectorAll("#tasks th")) {
    th.classList.toggle("sorted", th.dataset.key === view.sort);
    th.classList.toggle("desc", th.dataset.key === view.sort && view.desc);
    th.classList.toggle("asc", th.dataset.key === view.sort && !view.desc);
  }
}

function render() {
  renderPending = false;
  renderControls();
  renderTable();
  if (stats.firstRender === null) {
    stats.firstRender = performance.now();
    document.body.dataset.ready = "1";
  }
}

function schedule() {
  if (!renderPending) {
    renderPending = true;
    requestAnimationFrame(render);
  }
}

function refreshCharts() {
  // a big table's charts cost the server more: every 2 s up to 2,000 tasks, then 1 ms a task
  const wait = chartsAt + Math.max(CHART_EVERY_MS, tasks.size) - Date.now();
  if (wait > 0) {
    if (!chartTimer) chartTimer = setTimeout(() => { chartTimer = null; refreshCharts(); }, wait);
    return;
  }
  chartsAt = Date.now();
  const seq = stats.seq;
  const names = ["counts", "timeline", "owners", "tags"];
  let pending = names.length;
  for (const name of names) {
    const image = document.getElementById("chart-" + name);
    image.addEventListener("load", () => { if (--pending === 0) stats.chartSeq = seq; },
                           { once: true });
    image.src = `charts/${name}.svg?seq=${seq}`;
  }
}

function cancel(names, button) {
  const notice = document.getElementById("notice");
  if (button) button.disabled = true;
  fetch("cancel", {
    method: "POST",
    headers: { "content-type": "application/json", "x-distributor-dashboard": "cancel" },
    body: JSON.stringify({ names }),
  }).then((r) => r.json()).then((answer) => {
    notice.textContent = answer.message || answer.error;
  }).catch((error) => { notice.textContent = "cancel failed: " + error; });
}

function objects(data) {  // the message's rows (lists in the order of its columns) as objects
  const at = {};
  data.columns.forEach((key, k) => { at[key] = k; });
  const rows = data.rows;
  const out = new Array(rows.length);
  for (let r = 0; r < rows.length; r++) {
    const v = rows[r];
    out[r] = {  // one literal: every task object has the same shape (fast to make and read)
      id: v[at.id],
      name: v[at.name],
      status: v[at.status],
      state: v[at.state],
      attempt: v[at.attempt],
      max_attempts: v[at.max_attempts],
      cluster: v[at.cluster],
      owner: v[at.owner],
      tags: v[at.tags],
      message: v[at.message],
      cancel_requested: v[at.cancel_requested],
      queue: v[at.queue],
      distributor_id: v[at.distributor_id],
      exit_code: v[at.exit_code],
      signal: v[at.signal],
      started_at: v[at.started_at],
      ended_at: v[at.ended_at],
      elapsed: v[at.elapsed],
      max_rss: v[at.max_rss],
      cpu: v[at.cpu],
      memory: v[at.memory],
      cores: v[at.cores],
    };
  }
  return out;
}

function connect() {
  stats.connectAt = performance.now();
  const live = document.getElementById("live");
  const source = new EventSource("events");
  source.addEventListener("open", () => { live.className = "live on"; live.textContent = "live"; });
  source.addEventListener("error", () => {
    live.className = "live off";
    live.textContent = "reconnecting…";
  });
  source.addEventListener("snapshot", (event) => {
    if (stats.snapshotAt === undefined) stats.snapshotAt = performance.now();
    const data = JSON.parse(event.data);
    stats.parsedAt = performance.now();
    skew = data.now - Date.now() / 1000;
    tasks.clear();
    for (const t of objects(data)) tasks.set(t.id, t);
    stats.storedAt = performance.now();
    stats.snapshots += 1;
    stats.seq = data.seq;
    render();
    refreshCharts();
  });
  source.addEventListener("changes", (event) => {
    const data = JSON.parse(event.data);
    skew = data.now - Date.now() / 1000;
    for (const t of objects(data)) tasks.set(t.id, t);
    stats.changes += 1;
    stats.lastChangeSize = data.rows.length;
    stats.seq = data.seq;
    schedule();
    refreshCharts();
  });
}

function setup() {
  if (new URLSearchParams(location.search).has("token")) {
    history.replaceState(null, "", location.pathname);  // the cookie carries it from now on
  }
  const head = document.querySelector("#tasks thead tr");
  for (const [key, title] of COLUMNS) {
    const th = el("th", title);
    th.dataset.key = key;
    if (key) {
      th.addEventListener("click", () => {
        view.desc = view.sort === key ? !view.desc : false;
        view.sort = key;
        renderTable();
      });
    }
    head.append(th);
  }
  for (const key of ["state", "owner", "tag"]) {
    document.getElementById("filter-" + key).addEventListener("change", (event) => {
      view[key] = event.target.value;
      view.page = 0;
      renderTable();
    });
  }
  document.getElementById("filter-name").addEventListener("input", (event) => {
    view.name = event.target.value;
    view.page = 0;
    renderTable();
  });
  document.getElementById("prev").addEventListener("click", () => { view.page -= 1; renderTable(); });
  document.getElementById("next").addEventListener("click", () => { view.page += 1; renderTable(); });
  setInterval(() => {  // running tasks' elapsed time
    for (const tr of document.querySelectorAll("#tasks tbody tr")) {
      const t = tasks.get(Number(tr.dataset.id));
      if (t && t.status === "active" && t.started_at != null) {
        tr.querySelector("td.elapsed").textContent = fmtSeconds(elapsed(t));
      }
    }
  }, 1000);
  connect();
}

document.addEventListener("DOMContentLoaded", setup);
