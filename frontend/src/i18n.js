// The page's language: gettext catalogues (server/http/locales/, compiled by the server into
// /dashboard/i18n/<lang>.json) and the browser's Intl for numbers and dates.
//
// Strings are marked `_("...")`, `pgettext("context", "...")` or `ngettext("...", "...", n)` (Babel's javascript extractor
// reads these calls: keep the arguments plain string literals) and use {name} placeholders
// filled by fmt(). In index.html, `data-i18n` marks an element whose text is a msgid and
// `data-i18n-attrs="placeholder aria-label"` names attributes whose values are msgids.
const KEY = "satreps.lang";
const root = document.documentElement;

let current = { locale: "en", messages: {} };
let plurals = new Intl.PluralRules("en");
let numbers = new Intl.NumberFormat("en");

/** The languages the server has catalogues for (it names them on <html>). */
export function languages() {
  return (root.dataset.languages || "en").split(" ").filter(Boolean);
}

/** The remembered choice if the server still offers it, else the server's negotiated one. */
export function chosenLanguage() {
  const remembered = localStorage.getItem(KEY);
  return remembered && languages().includes(remembered) ? remembered : root.lang || "en";
}

export function rememberLanguage(lang) {
  localStorage.setItem(KEY, lang);
}

export function locale() {
  return current.locale;
}

export function _(msgid) {
  const found = current.messages[msgid];
  return typeof found === "string" && found ? found : msgid;
}

/** A msgid that means different things in different places ("Rejected": a phase, a state). */
export function pgettext(context, msgid) {
  const found = current.messages[`${context}\u0004${msgid}`];
  return typeof found === "string" && found ? found : msgid;
}

export function ngettext(singular, plural, n) {
  const found = current.messages[singular];
  if (found && typeof found === "object") {
    const text = found[plurals.select(n)] || found.other;
    if (text) return text;
  }
  return n === 1 ? singular : plural;
}

/** "{n} links" + {n: 3} -> "3 links"; numbers are formatted for the page's locale. */
export function fmt(text, values) {
  return text.replace(/\{(\w+)\}/g, (whole, key) => {
    if (!(key in values)) return whole;
    const value = values[key];
    return typeof value === "number" ? numbers.format(value) : String(value);
  });
}

export function number(n, options) {
  return options ? new Intl.NumberFormat(current.locale, options).format(n) : numbers.format(n);
}

export function dateTime(value, options = { dateStyle: "medium", timeStyle: "medium" }) {
  return new Intl.DateTimeFormat(current.locale, options).format(new Date(value));
}

/** "YYYY-MM-01" (a calendar month, no time zone) as the locale writes it. */
export function month(iso, options = { year: "numeric", month: "short" }) {
  const [year, m] = iso.split("-").map(Number);
  return new Intl.DateTimeFormat(current.locale, { ...options, timeZone: "UTC" }).format(Date.UTC(year, m - 1, 1));
}

/** Fetch the catalogue of `lang` and make it current; English (the msgids) when it fails. */
export async function loadLanguage(lang) {
  try {
    const response = await fetch(`/dashboard/i18n/${encodeURIComponent(lang)}.json`, { credentials: "omit" });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    current = await response.json();
  } catch (error) {
    console.warn(`no catalogue for ${lang}: ${error.message}`);
    current = { locale: "en", messages: {} };
  }
  plurals = new Intl.PluralRules(current.locale);
  numbers = new Intl.NumberFormat(current.locale);
  root.lang = current.locale;
}

const normal = (text) => text.replace(/\s+/g, " ").trim();

/** Translate the static page: elements marked data-i18n and attributes named in data-i18n-attrs. */
export function translatePage(scope = document) {
  for (const node of scope.querySelectorAll("[data-i18n]")) {
    if (!node.dataset.i18n) node.dataset.i18n = normal(node.textContent);
    node.textContent = _(node.dataset.i18n);
  }
  for (const node of scope.querySelectorAll("[data-i18n-attrs]")) {
    for (const attr of node.dataset.i18nAttrs.split(" ").filter(Boolean)) {
      const source = `data-i18n-msgid-${attr}`;
      if (!node.hasAttribute(source)) node.setAttribute(source, node.getAttribute(attr) || "");
      node.setAttribute(attr, _(node.getAttribute(source)));
    }
  }
}
