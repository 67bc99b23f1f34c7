// The search box: `search(query, types, first, after)`, hits ranked by the server, with the
// server's highlight (HTML-escaped text with <mark>) rebuilt as DOM nodes, never as HTML.
import { gql } from "./api.js";
import { el, panelState } from "./dom.js";
import { fmt, ngettext } from "./i18n.js";
import { hitTypeName } from "./vocab.js";

const SEARCH = `query Search($query: String!, $types: [SearchType!], $after: String) {
  search(query: $query, types: $types, first: 20, after: $after) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges {
      rank highlight type
      node {
        __typename
        ... on Project { id acronym title phase }
        ... on Dataset { id title accessLevel }
        ... on Institution { id nameEn country { code } }
        ... on Researcher { id nameEn nameLocal }
      }
    }
  }
}`;
const ENTITIES = { "&amp;": "&", "&lt;": "<", "&gt;": ">", "&quot;": '"', "&#x27;": "'", "&#39;": "'" };

function unescape(text) {
  return text.replace(/&(amp|lt|gt|quot|#x27|#39);/g, (m) => ENTITIES[m]);
}

/** "a <mark>b</mark> c" (escaped) -> [text, <mark>, text]. */
export function highlighted(html) {
  const parts = html.split(/<mark>|<\/mark>/);
  return parts.map((part, i) => (i % 2 ? el("mark", { text: unescape(part) }) : unescape(part)));
}

function title(node) {
  switch (node.__typename) {
    case "Project":
      return node.acronym ? `${node.acronym}: ${node.title}` : node.title;
    case "Dataset":
      return node.title;
    case "Institution":
      return `${node.nameEn} (${node.country.code})`;
    case "Researcher":
      return node.nameLocal ? `${node.nameEn} (${node.nameLocal})` : node.nameEn;
    default:
      return node.id;
  }
}

let last = null;

async function run(more) {
  const panel = document.querySelector("#search-panel");
  const list = document.querySelector("#search-results");
  const button = document.querySelector("#search-more");
  panel.hidden = false;
  if (!more) list.replaceChildren();
  panelState(panel, "loading");
  let data;
  try {
    data = await gql(SEARCH, { ...last, after: more ? last.after : null });
  } catch (error) {
    panelState(panel, "error", error.message);
    return;
  }
  const result = data.search;
  for (const edge of result.edges) {
    list.append(
      el(
        "li",
        { "data-type": edge.type, "data-id": edge.node.id, "data-rank": edge.rank },
        el("span", { class: "hit-type", text: hitTypeName(edge.type) }),
        el("strong", { class: "hit-title", text: title(edge.node) }),
        el("div", { class: "hit-highlight" }, highlighted(edge.highlight)),
      ),
    );
  }
  last.after = result.pageInfo.endCursor;
  button.hidden = !result.pageInfo.hasNextPage;
  const summary = document.querySelector("#search-summary");
  summary.textContent = fmt(ngettext("{n} hit for \u201c{query}\u201d", "{n} hits for \u201c{query}\u201d", result.totalCount), {
    n: result.totalCount,
    query: last.query,
  });
  panel.dataset.total = String(result.totalCount);
  panelState(panel, "ready");
}

/** `ready`: the page's language; a search waits for it. */
export function initSearch(ready) {
  document.querySelector("#search-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const query = document.querySelector("#search").value.trim();
    if (!query) return;
    const type = document.querySelector("#search-type").value;
    last = { query, types: type ? [type] : null, after: null };
    await ready;
    run(false);
  });
  document.querySelector("#search-more").addEventListener("click", () => last && run(true));
}
