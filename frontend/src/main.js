// /dashboard: everything below is read through /graphql with the caller's token.
import "./style.css";
import { allNodes, getToken, gql, resetSubscriptions, setToken, subscribe } from "./api.js";
import { barChart, heatmap, network } from "./charts.js";
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
const FINAL = new Set(["READY", "FAILED", "REJECTED", "ABORTED"]);
const $ = (selector) => document.querySelector(selector);

const PROJECTS = `query Projects($after: String) {
  projects(first: 100, after: $after) {
    edges { node {
      id acronym phase
      themes { code name }
      partnerCountries { code name }
      institutions { role institution { id nameEn acronym country { code } } }
    } }
    pageInfo { hasNextPage endCursor }
  }
}`;

function label(text) {
  return text.replaceAll("_", " ").toLowerCase().replace(/^./, (c) => c.toUpperCase());
}

function theMatrix(projects) {
  const rows = new Map();
  const cols = new Map();
  const cells = new Map();
  for (const p of projects) {
    for (const t of p.themes) {
      rows.set(t.code, { key: t.code, label: `${t.code} ${t.name}` });
      for (const c of p.partnerCountries) {
        cols.set(c.code, { key: c.code, label: c.name });
        const key = `${t.code}|${c.code}`;
        cells.set(key, (cells.get(key) || 0) + 1);
      }
    }
  }
  const byKey = (a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);
  return { rows: [...rows.values()].sort(byKey), cols: [...cols.values()].sort(byKey), cells };
}

function thePhases(projects) {
  const counts = new Map(PHASES.map((p) => [p, 0]));
  for (const p of projects) counts.set(p.phase, (counts.get(p.phase) || 0) + 1);
  return [...counts].map(([key, count]) => ({ key, label: label(key), count }));
}

function theNetwork(projects) {
  const nodes = new Map();
  const edges = new Map();
  for (const p of projects) {
    const members = [];
    for (const { role, institution: i } of p.institutions) {
      const side = i.country.code === "JP" ? "jp" : role === "THIRD_COUNTRY" ? "third" : "partner";
      if (!nodes.has(i.id)) nodes.set(i.id, { id: i.id, label: i.acronym || i.nameEn, country: i.country.code, side });
      if (!members.includes(i.id)) members.push(i.id);
    }
    members.sort();
    for (let a = 0; a < members.length; a++) {
      for (let b = a + 1; b < members.length; b++) {
        const key = `${members[a]} ${members[b]}`;
        edges.set(key, (edges.get(key) || 0) + 1);
      }
    }
  }
  const list = [...edges].map(([key, weight]) => {
    const [source, target] = key.split(" ");
    const sides = new Set([nodes.get(source).side, nodes.get(target).side]);
    const kind = sides.has("jp") && sides.has("partner") ? "jp-partner" : "other";
    return { source, target, weight, kind };
  });
  return { nodes: [...nodes.values()], edges: list };
}

async function loadCharts() {
  const panels = ["#matrix-panel", "#phase-panel", "#network-panel"].map((s) => $(s));
  panels.forEach((p) => panelState(p, "loading"));
  let projects;
  try {
    projects = await allNodes(PROJECTS, "projects");
  } catch (error) {
    panels.forEach((p) => panelState(p, "error", error.message));
    return;
  }
  const m = theMatrix(projects);
  heatmap($("#matrix"), m.rows, m.cols, m.cells);
  panelState(panels[0], "ready");
  const phases = thePhases(projects);
  barChart($("#phases"), phases);
  $("#phase-panel").dataset.total = String(projects.length);
  panelState(panels[1], "ready");
  const net = theNetwork(projects);
  network($("#network"), net.nodes, net.edges);
  $("#network-summary").textContent = `${net.nodes.length} institutions, ${net.edges.length} links`;
  panelState(panels[2], "ready");
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
  initSearch();
  reloadAll();
  // new uploads appear without a reload; changes of known ones arrive by subscription
  setInterval(() => {
    if (document.visibilityState === "visible") loadUploads();
  }, 15000);
}

init();
