// The three charts, drawn as plain SVG; d3 computes scales, colours and the force layout.
import { forceCenter, forceCollide, forceLink, forceManyBody, forceSimulation, forceX, forceY } from "d3-force";
import { scaleBand, scaleLinear, scaleSequential, scaleSqrt } from "d3-scale";
import { interpolateYlGnBu } from "d3-scale-chromatic";
import { el, svg } from "./dom.js";
import { _, fmt, month, ngettext, number } from "./i18n.js";

/** "{n} projects" / "{n} datasets", as the matrix counts them. */
function counted(metric, n) {
  const text =
    metric === "datasets" ? ngettext("{n} dataset", "{n} datasets", n) : ngettext("{n} project", "{n} projects", n);
  return fmt(text, { n });
}

/** rows: [{key,label}], cols: [{key,label}], cells: Map(`${row}|${col}` -> count) */
export function heatmap(container, rows, cols, cells, metric = "projects") {
  container.replaceChildren();
  if (!rows.length || !cols.length) {
    container.append(el("p", { class: "empty", text: metric === "datasets" ? _("No datasets to show.") : _("No projects to show.") }));
    return;
  }
  const cell = 26;
  const left = 230;
  const top = 54;
  const width = left + cols.length * cell + 10;
  const height = top + rows.length * cell + 10;
  const max = Math.max(1, ...cells.values());
  const colour = scaleSequential(interpolateYlGnBu).domain([0, max]);
  const x = scaleBand().domain(cols.map((c) => c.key)).range([left, left + cols.length * cell]);
  const y = scaleBand().domain(rows.map((r) => r.key)).range([top, top + rows.length * cell]);
  const root = svg("svg", {
    viewBox: `0 0 ${width} ${height}`,
    width,
    height,
    role: "img",
    "aria-label": metric === "datasets" ? _("Datasets per theme and partner country") : _("Projects per theme and partner country"),
    "data-metric": metric,
    "data-rows": rows.length,
    "data-cols": cols.length,
  });
  for (const c of cols) {
    const cx = x(c.key) + cell / 2;
    root.append(
      svg("text", { x: cx, y: top - 6, class: "col-label", transform: `rotate(-60 ${cx} ${top - 6})` }, c.key),
    );
  }
  for (const r of rows) {
    root.append(
      svg("text", { x: left - 6, y: y(r.key) + cell / 2 + 4, class: "row-label", "data-theme": r.key }, r.label, svg("title", {}, r.title || r.label)),
    );
    for (const c of cols) {
      const count = cells.get(`${r.key}|${c.key}`) || 0;
      const rect = svg("rect", {
        x: x(c.key) + 1,
        y: y(r.key) + 1,
        width: cell - 2,
        height: cell - 2,
        fill: count ? colour(count) : "#f3f4f6",
        class: "cell",
        "data-theme": r.key,
        "data-country": c.key,
        "data-count": count,
      });
      rect.append(svg("title", {}, `${r.title || r.label} \u00d7 ${c.label}: ${counted(metric, count)}`));
      root.append(rect);
      if (count) {
        root.append(
          svg("text", { x: x(c.key) + cell / 2, y: y(r.key) + cell / 2 + 4, class: count > max / 2 ? "count dark" : "count" }, number(count)),
        );
      }
    }
  }
  container.append(root);
}

/** bars: [{key,label,count}] */
export function barChart(container, bars) {
  container.replaceChildren();
  const rowH = 24;
  const left = 150;
  const width = 460;
  const height = bars.length * rowH + 8;
  const max = Math.max(1, ...bars.map((b) => b.count));
  const x = scaleLinear().domain([0, max]).range([0, width - left - 40]);
  const root = svg("svg", { viewBox: `0 0 ${width} ${height}`, width, height, role: "img", "aria-label": _("Projects by phase") });
  bars.forEach((b, i) => {
    const y = 4 + i * rowH;
    const bar = svg("rect", {
      x: left,
      y: y + 3,
      width: Math.max(1, x(b.count)),
      height: rowH - 6,
      class: "bar",
      "data-phase": b.key,
      "data-count": b.count,
    });
    bar.append(svg("title", {}, `${b.label}: ${counted("projects", b.count)}`));
    root.append(
      svg("text", { x: left - 6, y: y + rowH / 2 + 4, class: "row-label" }, b.label),
      bar,
      svg("text", { x: left + Math.max(1, x(b.count)) + 5, y: y + rowH / 2 + 4, class: "value" }, number(b.count)),
    );
  });
  container.append(root);
}

/** nodes: [{id,label,country,side}], edges: [{source,target,weight,kind}] */
export function network(container, nodes, edges) {
  container.replaceChildren();
  const width = 960;
  const height = 620;
  const simNodes = nodes.map((n) => ({ ...n }));
  const simEdges = edges.map((e) => ({ ...e }));
  const maxW = Math.max(1, ...edges.map((e) => e.weight));
  const degree = new Map();
  for (const e of edges) {
    degree.set(e.source, (degree.get(e.source) || 0) + e.weight);
    degree.set(e.target, (degree.get(e.target) || 0) + e.weight);
  }
  const radius = scaleSqrt().domain([0, Math.max(1, ...degree.values())]).range([3, 13]);
  const simulation = forceSimulation(simNodes)
    .force("link", forceLink(simEdges).id((d) => d.id).distance(60).strength(0.3))
    .force("charge", forceManyBody().strength(-110))
    .force("center", forceCenter(width / 2, height / 2))
    .force("x", forceX(width / 2).strength(0.03))
    .force("y", forceY(height / 2).strength(0.05))
    .force("collide", forceCollide((d) => radius(degree.get(d.id) || 0) + 1))
    .stop();
  // a fixed number of ticks: the same picture every time, no animation to wait for
  for (let i = 0; i < 300; i++) simulation.tick();
  for (const n of simNodes) {
    n.x = Math.max(14, Math.min(width - 14, n.x));
    n.y = Math.max(14, Math.min(height - 14, n.y));
  }
  const root = svg("svg", {
    viewBox: `0 0 ${width} ${height}`,
    class: "network",
    role: "img",
    "aria-label": _("Institutions and their shared projects"),
    "data-nodes": nodes.length,
    "data-edges": edges.length,
  });
  const width_ = scaleLinear().domain([1, maxW]).range([0.8, 5]);
  const links = svg("g", { class: "links" });
  for (const e of simEdges) {
    links.append(
      svg(
        "line",
        {
          x1: e.source.x.toFixed(1),
          y1: e.source.y.toFixed(1),
          x2: e.target.x.toFixed(1),
          y2: e.target.y.toFixed(1),
          "stroke-width": width_(e.weight).toFixed(2),
          class: `link ${e.kind}`,
          "data-source": e.source.id,
          "data-target": e.target.id,
          "data-weight": e.weight,
        },
        svg("title", {}, `${e.source.label} - ${e.target.label}: ${e.title || e.weight}`),
      ),
    );
  }
  const dots = svg("g", { class: "nodes" });
  for (const n of simNodes) {
    dots.append(
      svg(
        "circle",
        {
          cx: n.x.toFixed(1),
          cy: n.y.toFixed(1),
          r: radius(degree.get(n.id) || 0).toFixed(1),
          class: `node ${n.side}`,
          "data-id": n.id,
          "data-country": n.country,
        },
        svg("title", {}, `${n.label} (${n.country})`),
      ),
    );
  }
  root.append(links, dots);
  container.append(root);
}

/** months: [{month: "YYYY-MM-01", started, published}] in order: paired columns per month. */
export function activity(container, months) {
  container.replaceChildren();
  if (!months.length) {
    container.append(el("p", { class: "empty", text: _("No activity to show.") }));
    return;
  }
  const left = 34;
  const top = 8;
  const plot = 170;
  const step = Math.max(3, Math.min(24, 900 / months.length));
  const width = left + months.length * step + 10;
  const height = top + plot + 40;
  const max = Math.max(1, ...months.map((m) => Math.max(m.started, m.published)));
  const y = scaleLinear().domain([0, max]).nice().range([top + plot, top]);
  const root = svg("svg", {
    viewBox: `0 0 ${width} ${height}`,
    width,
    height,
    role: "img",
    "aria-label": _("Projects started and datasets published per month"),
    "data-months": months.length,
  });
  for (const tick of y.ticks(4)) {
    root.append(
      svg("line", { x1: left, x2: width - 10, y1: y(tick), y2: y(tick), class: "grid" }),
      svg("text", { x: left - 4, y: y(tick) + 4, class: "row-label" }, number(tick)),
    );
  }
  months.forEach((m, i) => {
    const x = left + i * step;
    const bar = Math.max(1, (step - 1) / 2);
    for (const [key, value, dx] of [["started", m.started, 0], ["published", m.published, bar]]) {
      if (!value) continue;
      const what =
        key === "started"
          ? ngettext("{n} project started", "{n} projects started", value)
          : ngettext("{n} dataset published", "{n} datasets published", value);
      root.append(
        svg(
          "rect",
          { x: x + dx, y: y(value), width: bar, height: y(0) - y(value), class: `activity ${key}`, "data-month": m.month, [`data-${key}`]: value },
          svg("title", {}, `${month(m.month)}: ${fmt(what, { n: value })}`),
        ),
      );
    }
    if (m.month.slice(5, 7) === "01" || i === 0) {
      root.append(svg("text", { x: x, y: top + plot + 14, class: "col-label year", "data-year": m.month.slice(0, 4) }, month(m.month, { year: "numeric" })));
    }
  });
  container.append(root);
}
