// The search box: waits for the backend's `search` field.
import { el } from "./dom.js";

export function initSearch() {
  const form = document.querySelector("#search-form");
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const panel = document.querySelector("#search-panel");
    panel.hidden = false;
    document.querySelector("#search-results").replaceChildren(el("li", { text: "Search is not available yet." }));
  });
}
