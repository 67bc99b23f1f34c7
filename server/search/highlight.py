"""The highlight of a search hit: one rule in Python on both databases, so a hit reads the
same on SQLite and PostgreSQL (FTS5's snippet() and ts_headline() cut differently).

The text is the title, then " — " and the body when there is one, whitespace collapsed.
Words are those of the query (`terms`); a word of the text is a match when, lower-cased and
without diacritics, it starts with a word of the query (the search's own prefix rule). A text
of at most WINDOW words is shown whole; a longer one as WINDOW words starting LEAD words
before its first match (or at its start, without a match), moved back so that the window is
full, with "… " before and " …" after where words were left out. Every match in the window
is wrapped in <mark>…</mark>; the rest is HTML-escaped."""

from __future__ import annotations

import html
import re
import unicodedata

WINDOW = 24
LEAD = 3
ELLIPSIS = "…"
WORD = re.compile(r"[^\W_]+(?:[\u0300-\u036f\u0e31-\u0e4e]*[^\W_]*)*")
_SPACE = re.compile(r"\s+")


def fold(word: str) -> str:
    """Lower-cased, without diacritics (as FTS5's remove_diacritics folds Latin letters)."""
    decomposed = unicodedata.normalize("NFKD", word.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def document_text(title: str | None, body: str | None) -> str:
    title, body = _SPACE.sub(" ", title or "").strip(), _SPACE.sub(" ", body or "").strip()
    return f"{title} — {body}" if title and body else title or body


def highlight(title: str | None, body: str | None, words: list[str]) -> str:
    text = document_text(title, body)
    prefixes = [fold(w) for w in words]
    spans = [m.span() for m in WORD.finditer(text)]
    hits = {i for i, (a, b) in enumerate(spans) if fold(text[a:b]).startswith(tuple(prefixes))}
    start, end = _window(len(spans), min(hits, default=0))
    if not spans:
        return html.escape(text, quote=False)
    begin = spans[start][0] if start > 0 else 0
    finish = spans[end - 1][1] if end < len(spans) else len(text)
    parts = [f"{ELLIPSIS} "] if start > 0 else []
    at = begin
    for i in range(start, end):
        a, b = spans[i]
        if i in hits:
            parts += [html.escape(text[at:a], quote=False), "<mark>"]
            parts += [html.escape(text[a:b], quote=False), "</mark>"]
            at = b
    parts.append(html.escape(text[at:finish], quote=False))
    if end < len(spans):
        parts.append(f" {ELLIPSIS}")
    return "".join(parts)


def _window(count: int, first_hit: int) -> tuple[int, int]:
    """The words shown: [start, end) of `count`, around the first match."""
    if count <= WINDOW:
        return 0, count
    start = max(0, min(first_hit - LEAD, count - WINDOW))
    return start, start + WINDOW
