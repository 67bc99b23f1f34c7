// /dashboard: everything below is read through /graphql with the caller's token.
import "./style.css";
import { getToken, gql, resetSubscriptions, setToken, subscribe } from "./api.js";
import { activity, barChart, heatmap, network } from "./charts.js";
import { el, panelState } from "./dom.js";
import { initSearch } from "./search.js";

const PHASES = [
  "IDENTIFICATION",
  "REQUESTED",
  "APPROVED",
  "PLANNING",
  "IMPLEMENTATION",
  "COMPLETED",
  "FOLLOW_UP",
  "EX_POST_EVALUATED",
  "REJECTED",
  "WITHDRAWN",
];
const FINAL = new Set(["READY", "FAILED", "REJECTED", "ABORTED", "QUARANTINED"]);
const $ = (selector) => document.querySelector(selector);

const STATS = `query Stats($filter: StatsFilter) {
  themes { code name parent { code } }
  themeStats(filter: $filter) {
    totals { projects institutions japaneseInstitutions partnerInstitutions thirdCountryInstitutions
             researchers datasets versions uploadsReady uploadsFailed bytesStored }
    matrix { theme { code } countryCode projects datasets }
    byPhase { phase figures { projects } }
  }
}`;
const MAX_EDGES = 500;
const NETWORK = `query Network($filter: StatsFilter, $maxEdges: Int!) {
  collaborationNetwork(filter: $filter, maxEdges: $maxEdges) {
    nodes { id name countryCode side projects }
    edges { source target sharedProjects sharedDatasets japanPartner weight }
  }
}`;
const SIDES = { JAPAN: "jp", PARTNER: "partner", THIRD_COUNTRY: "third" };

function label(text) {
  return text.replaceAll("_", " ").toLowerCase().replace(/^./, (c) => c.toUpperCase());
}

function bytes(n) {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${i ? n.toFixed(1) : n} ${units[i]}`;
}

/** Rows in tree order (a theme, then its sub-themes), only themes with a cell. */
function theMatrix(themes, cells, metric) {
  const present = new Set(cells.map((c) => c.theme.code));
  const children = new Map();
  for (const t of themes) {
    const parent = t.parent ? t.parent.code : "";
    if (!children.has(parent)) children.set(parent, []);
    children.get(parent).push(t);
  }
  const rows = [];
  const walk = (parent, depth) => {
    for (const t of children.get(parent) || []) {
      if (present.has(t.code)) rows.push({ key: t.code, label: depth ? `${"\u203a ".repeat(depth)}${t.name}` : t.name, title: t.name });
      walk(t.code, depth + 1);
    }
  };
  walk("", 0);
  const counts = new Map();
  const cols = new Set();
  for (const c of cells) {
    cols.add(c.countryCode);
    counts.set(`${c.theme.code}|${c.countryCode}`, c[metric]);
  }
  return { rows, cols: [...cols].sort().map((code) => ({ key: code, label: code })), cells: counts };
}

let stats = null;

function drawMatrix() {
  const metric = $("#matrix-metric").value;
  const m = theMatrix(stats.themes, stats.themeStats.matrix, metric);
  heatmap($("#matrix"), m.rows, m.cols, m.cells, metric);
}

function drawTotals(t) {
  const items = [
    ["projects", "Projects", t.projects],
    ["institutions", "Institutions", t.institutions],
    ["japaneseInstitutions", "Japanese", t.japaneseInstitutions],
    ["partnerInstitutions", "Partner", t.partnerInstitutions],
    ["thirdCountryInstitutions", "Third country", t.thirdCountryInstitutions],
    ["researchers", "Researchers", t.researchers],
    ["datasets", "Datasets", t.datasets],
    ["versions", "Versions", t.versions],
    ["uploadsReady", "Uploads ready", t.uploadsReady],
    ["uploadsFailed", "Uploads failed", t.uploadsFailed],
    ["bytesStored", "Stored", bytes(t.bytesStored)],
  ];
  $("#totals").replaceChildren(
    ...items.map(([key, name, value]) =>
      el("div", { class: "kpi", "data-key": key, "data-value": key === "bytesStored" ? t.bytesStored : value }, el("strong", { text: value }), el("span", { text: name })),
    ),
  );
}

function currentFilter() {
  const phase = $("#filter-phase").value;
  const year = $("#filter-year").value.trim();
  const country = $("#filter-country").value.trim().toUpperCase();
  const filter = {};
  if (phase) filter.phases = [phase];
  if (/^\d{4}$/.test(year)) filter.years = [Number(year)];
  if (/^[A-Z]{2}$/.test(country)) filter.countries = [country];
  return Object.keys(filter).length ? filter : null;
}

async function loadStats(filter, seq) {
  const panels = ["#totals-panel", "#matrix-panel", "#phase-panel"].map((s) => $(s));
  panels.forEach((p) => panelState(p, "loading"));
  try {
    const data = await gql(STATS, { filter });
    if (seq !== generation) return; // a newer filter is on its way
    stats = data;
  } catch (error) {
    if (seq === generation) panels.forEach((p) => panelState(p, "error", error.message));
    return;
  }
  drawTotals(stats.themeStats.totals);
  panelState(panels[0], "ready");
  drawMatrix();
  panelState(panels[1], "ready");
  const byPhase = new Map(stats.themeStats.byPhase.map((p) => [p.phase, p.figures.projects]));
  barChart(
    $("#phases"),
    PHASES.map((key) => ({ key, label: label(key), count: byPhase.get(key) || 0 })),
  );
  panelState(panels[2], "ready");
}

async function loadNetwork(filter, seq) {
  const panel = $("#network-panel");
  panelState(panel, "loading");
  let data;
  try {
    data = await gql(NETWORK, { filter, maxEdges: MAX_EDGES });
  } catch (error) {
    if (seq === generation) panelState(panel, "error", error.message);
    return;
  }
  if (seq !== generation) return;
  const { nodes, edges } = data.collaborationNetwork;
  network(
    $("#network"),
    nodes.map((n) => ({ id: n.id, label: n.name, country: n.countryCode, side: SIDES[n.side], projects: n.projects })),
    edges.map((e) => ({
      source: e.source,
      target: e.target,
      weight: e.weight,
      kind: e.japanPartner ? "jp-partner" : "other",
      title: `${e.sharedProjects} shared project${e.sharedProjects === 1 ? "" : "s"}, ${e.sharedDatasets} shared dataset${e.sharedDatasets === 1 ? "" : "s"}`,
    })),
  );
  const strongest = edges.length >= MAX_EDGES ? ` (the ${MAX_EDGES} strongest)` : "";
  $("#network-summary").textContent = `${nodes.length} institutions, ${edges.length} links${strongest}`;
  panelState(panel, "ready");
}

const ACTIVITY = `query Activity($filter: StatsFilter) {
  activityTimeSeries(filter: $filter) { month projectsStarted datasetsPublished theme { code parent { code } } }
}`;

/** The series summed over the top-level themes (a parent includes its sub-themes), every
 * month from the first to the last (gaps as zero). */
function monthly(points) {
  const sums = new Map();
  for (const p of points) {
    if (p.theme.parent) continue;
    const s = sums.get(p.month) || { month: p.month, started: 0, published: 0 };
    s.started += p.projectsStarted;
    s.published += p.datasetsPublished;
    sums.set(p.month, s);
  }
  const known = [...sums.keys()].sort();
  if (!known.length) return [];
  const months = [];
  let [year, month] = known[0].split("-").map(Number);
  const [lastYear, lastMonth] = known[known.length - 1].split("-").map(Number);
  while (year < lastYear || (year === lastYear && month <= lastMonth)) {
    const key = `${year}-${String(month).padStart(2, "0")}-01`;
    months.push(sums.get(key) || { month: key, started: 0, published: 0 });
    month += 1;
    if (month > 12) [year, month] = [year + 1, 1];
  }
  return months;
}

async function loadActivity(filter, seq) {
  const panel = $("#activity-panel");
  panelState(panel, "loading");
  try {
    const data = await gql(ACTIVITY, { filter });
    if (seq !== generation) return;
    activity($("#activity"), monthly(data.activityTimeSeries));
  } catch (error) {
    if (seq === generation) panelState(panel, "error", error.message);
    return;
  }
  panelState(panel, "ready");
}

let generation = 0; // only the latest filter's answers are drawn

function loadCharts() {
  const filter = currentFilter();
  const seq = ++generation;
  return Promise.all([loadStats(filter, seq), loadNetwork(filter, seq), loadActivity(filter, seq)]);
}

// ---- upload pipeline: recent uploads, each unfinished one followed by uploadStatus ----

const UPLOADS = `query RecentUploads {
  datasets(last: 50) {
    edges { node { id title versions { number uploads { id filename state attempts errorCode updatedAt } } } }
  }
}`;
const STATUS = `subscription Status($id: ID!) {
  uploadStatus(uploadId: $id) { id filename state attempts errorCode updatedAt }
}`;
const uploads = new Map(); // id -> {upload, dataset}
const following = new Map(); // id -> unsubscribe

function renderUploads() {
  const body = $("#uploads tbody");
  const rows = [...uploads.values()].sort((a, b) => (a.upload.updatedAt < b.upload.updatedAt ? 1 : -1));
  body.replaceChildren(
    ...rows.slice(0, 25).map(({ upload: u, dataset }) =>
      el(
        "tr",
        { "data-upload": u.id, "data-state": u.state },
        el("td", { text: u.filename }),
        el("td", { text: dataset }),
        el("td", {}, el("span", { class: `state ${u.state.toLowerCase()}`, text: u.state })),
        el("td", { text: u.attempts }),
        el("td", { text: new Date(u.updatedAt).toLocaleString() }),
      ),
    ),
  );
  const counts = new Map();
  for (const { upload: u } of uploads.values()) counts.set(u.state, (counts.get(u.state) || 0) + 1);
  $("#upload-counts").replaceChildren(
    uploads.size
      ? el("ul", { class: "counts" }, ...[...counts].map(([s, n]) => el("li", { "data-state": s, "data-count": n }, `${label(s)}: ${n}`)))
      : el("p", { class: "empty", text: "No uploads you may see yet." }),
  );
  $("#live").textContent = following.size ? `following ${following.size} live` : "";
}

function follow(id) {
  if (following.has(id)) return;
  const stop = subscribe(
    STATUS,
    { id },
    (data) => {
      const u = data.uploadStatus;
      const known = uploads.get(u.id);
      uploads.set(u.id, { upload: u, dataset: known ? known.dataset : "" });
      if (FINAL.has(u.state)) {
        following.get(id)?.();
        following.delete(id);
      }
      renderUploads();
    },
    () => {
      following.delete(id);
      renderUploads();
    },
  );
  following.set(id, stop);
}

async function loadUploads() {
  const panel = $("#uploads-panel");
  try {
    const data = await gql(UPLOADS);
    for (const { node: d } of data.datasets.edges) {
      for (const v of d.versions) {
        for (const u of v.uploads) {
          const known = uploads.get(u.id);
          // a live update may be newer than this read
          if (!known || known.upload.updatedAt <= u.updatedAt) uploads.set(u.id, { upload: u, dataset: `${d.title} v${v.number}` });
          else known.dataset = `${d.title} v${v.number}`;
        }
      }
    }
  } catch (error) {
    panelState(panel, "error", error.message);
    return;
  }
  for (const { upload: u } of uploads.values()) if (!FINAL.has(u.state)) follow(u.id);
  renderUploads();
  panelState(panel, "ready");
}

// ---- token ----

async function showWho() {
  const who = $("#who");
  if (!getToken()) {
    who.textContent = "anonymous (public data)";
    return;
  }
  try {
    const data = await gql("{ me { role } }");
    who.textContent = data.me ? `signed in: ${label(data.me.role)}` : "anonymous";
  } catch (error) {
    who.textContent = `token refused: ${error.message}`;
  }
}

function reloadAll() {
  for (const stop of following.values()) stop();
  following.clear();
  uploads.clear();
  resetSubscriptions();
  showWho();
  loadCharts();
  loadUploads();
}

function init() {
  const input = $("#token");
  input.value = getToken();
  $("#token-form").addEventListener("submit", (event) => {
    event.preventDefault();
    setToken(input.value.trim());
    reloadAll();
  });
  $("#token-clear").addEventListener("click", () => {
    input.value = "";
    setToken("");
    reloadAll();
  });
  for (const option of PHASES) $("#filter-phase").append(el("option", { value: option, text: label(option) }));
  $("#filter-form").addEventListener("submit", (event) => {
    event.preventDefault();
    loadCharts();
  });
  $("#matrix-metric").addEventListener("change", () => stats && drawMatrix());
  initSearch();
  reloadAll();
  // new uploads appear without a reload; changes of known ones arrive by subscription
  setInterval(() => {
    if (document.visibilityState === "visible") loadUploads();
  }, 15000);
}

init();
