// /dashboard: everything below is read through /graphql with the caller's token.
import "./style.css";
import { getToken, gql, resetSubscriptions, setToken, subscribe } from "./api.js";
import { activity, barChart, heatmap, network } from "./charts.js";
import { el, panelState } from "./dom.js";
import { _, chosenLanguage, dateTime, fmt, languages, loadLanguage, ngettext, number, rememberLanguage, translatePage } from "./i18n.js";
import { initSearch } from "./search.js";
import { PHASES, phaseName, roleName, themeName, uploadStateName } from "./vocab.js";

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

function bytes(n) {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${number(n, { maximumFractionDigits: i ? 1 : 0, minimumFractionDigits: i ? 1 : 0 })} ${units[i]}`;
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
      const name = themeName(t);
      if (present.has(t.code)) rows.push({ key: t.code, label: depth ? `${"\u203a ".repeat(depth)}${name}` : name, title: name });
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
    ["projects", _("Projects"), t.projects],
    ["institutions", _("Institutions"), t.institutions],
    ["japaneseInstitutions", _("Japanese"), t.japaneseInstitutions],
    ["partnerInstitutions", _("Partner"), t.partnerInstitutions],
    ["thirdCountryInstitutions", _("Third country"), t.thirdCountryInstitutions],
    ["researchers", _("Researchers"), t.researchers],
    ["datasets", _("Datasets"), t.datasets],
    ["versions", _("Versions"), t.versions],
    ["uploadsReady", _("Uploads ready"), t.uploadsReady],
    ["uploadsFailed", _("Uploads failed"), t.uploadsFailed],
    ["bytesStored", _("Stored"), t.bytesStored],
  ];
  $("#totals").replaceChildren(
    ...items.map(([key, name, value]) =>
      el("div", { class: "kpi", "data-key": key, "data-value": value }, el("strong", { text: key === "bytesStored" ? bytes(value) : number(value) }), el("span", { text: name })),
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
    PHASES.map(([key, name]) => ({ key, label: name(), count: byPhase.get(key) || 0 })),
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
      title: [
        fmt(ngettext("{n} shared project", "{n} shared projects", e.sharedProjects), { n: e.sharedProjects }),
        fmt(ngettext("{n} shared dataset", "{n} shared datasets", e.sharedDatasets), { n: e.sharedDatasets }),
      // i18n: the separator between two counts in one line
      ].join(_(", ")),
    })),
  );
  const summary = [
    fmt(ngettext("{n} institution", "{n} institutions", nodes.length), { n: nodes.length }),
    fmt(ngettext("{n} link", "{n} links", edges.length), { n: edges.length }),
  ].join(_(", "));
  const strongest = edges.length >= MAX_EDGES ? fmt(_(" (the {n} strongest)"), { n: MAX_EDGES }) : "";
  $("#network-summary").textContent = summary + strongest;
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
        el("td", {}, el("span", { class: `state ${u.state.toLowerCase()}`, text: uploadStateName(u.state) })),
        el("td", { text: number(u.attempts) }),
        el("td", { class: "updated", "data-updated": u.updatedAt, text: dateTime(u.updatedAt) }),
      ),
    ),
  );
  const counts = new Map();
  for (const { upload: u } of uploads.values()) counts.set(u.state, (counts.get(u.state) || 0) + 1);
  $("#upload-counts").replaceChildren(
    uploads.size
      ? el("ul", { class: "counts" }, ...[...counts].map(([s, n]) => el("li", { "data-state": s, "data-count": n }, fmt(_("{state}: {n}"), { state: uploadStateName(s), n }))))
      : el("p", { class: "empty", text: _("No uploads you may see yet.") }),
  );
  $("#live").textContent = following.size ? fmt(_("following {n} live"), { n: following.size }) : "";
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
    who.textContent = _("anonymous (public data)");
    return;
  }
  try {
    const data = await gql("{ me { role } }");
    who.textContent = data.me ? fmt(_("signed in: {role}"), { role: roleName(data.me.role) }) : _("anonymous");
  } catch (error) {
    // the API's message stays English: its errors carry stable codes, the page does not translate them
    who.textContent = fmt(_("token refused: {message}"), { message: error.message });
  }
}

// the catalogue first: listeners are in place at once, drawing waits for the language
const language = loadLanguage(chosenLanguage());

async function reloadAll() {
  await language;
  for (const stop of following.values()) stop();
  following.clear();
  uploads.clear();
  resetSubscriptions();
  showWho();
  loadCharts();
  loadUploads();
}

/** The visible switch: each language named in itself; the choice is kept in localStorage. */
function initLanguageSwitch() {
  const select = $("#lang");
  const current = document.documentElement.lang;
  for (const code of languages()) {
    let name = code;
    try {
      name = new Intl.DisplayNames([code], { type: "language" }).of(code);
    } catch {
      // a tag this browser's Intl does not know: shown as is
    }
    select.append(el("option", { value: code, lang: code, text: name, selected: code === current }));
  }
  select.addEventListener("change", () => {
    rememberLanguage(select.value);
    location.reload();
  });
}

async function init() {
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
  $("#filter-form").addEventListener("submit", (event) => {
    event.preventDefault();
    language.then(loadCharts);
  });
  $("#matrix-metric").addEventListener("change", () => stats && drawMatrix());
  initSearch(language);
  await language;
  translatePage();
  initLanguageSwitch();
  for (const [key, name] of PHASES) $("#filter-phase").append(el("option", { value: key, text: name() }));
  reloadAll();
  // new uploads appear without a reload; changes of known ones arrive by subscription
  setInterval(() => {
    if (document.visibilityState === "visible") loadUploads();
  }, 15000);
}

init();
