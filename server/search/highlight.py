"""The highlight of a search hit: one rule in Python on both databases, so a hit reads the
same on SQLite and PostgreSQL (FTS5's snippet() and ts_headline() cut differently).

The text is the title, then " — " and the body when there is one, then " — " and the
document's other language-tagged values (translations, names and keywords in other languages:
search_documents.texts) when it has any, whitespace collapsed.
It is analysed as the index analyses it (server/search/analysis.py); a term of the text is a
match when it starts with a term of the query (the search's own prefix rule), and the part of
the original text it comes from is marked (overlapping CJK bigrams mark one stretch). A text
of at most WINDOW terms is shown whole; a longer one as WINDOW terms starting LEAD terms
before its first match (or at its start, without a match), moved back so that the window is
full, with "… " before and " …" after where terms were left out. Every match in the window
is wrapped in <mark>…</mark>; the rest is HTML-escaped."""

from __future__ import annotations

import html
import re

from server.search.analysis import Token, analyse

WINDOW = 24
LEAD = 3
ELLIPSIS = "…"
_SPACE = re.compile(r"\s+")


def document_text(title: str | None, body: str | None, texts: str | None = None) -> str:
    parts = (_SPACE.sub(" ", part or "").strip() for part in (title, body, texts))
    return " — ".join(part for part in parts if part)


def _units(tokens: list[Token]) -> list[Token]:
    """The terms a window counts: a CJK run's last character alone is no unit of its own."""
    units: list[Token] = []
    for token in tokens:
        if units and token.kind == "cjk" and units[-1].kind == "cjk":
            if units[-1].start <= token.start < token.end <= units[-1].end:
                continue
        units.append(token)
    return units


def _match(token: Token, terms: list[str]) -> Token | None:
    """The part of `token` a query's term matches: a word whole (a prefix marks the word), a
    CJK bigram only as far as the term goes (京 marks 京 of 京大)."""
    prefix = max((t for t in terms if token.term.startswith(t)), key=len, default=None)
    if prefix is None:
        return None
    whole = token.kind != "cjk" or len(prefix) >= len(token.term)
    if whole or token.end - token.start != len(token.term):
        return token
    return Token(prefix, token.start, token.start + len(prefix), token.kind)


def _marked(tokens: list[Token], begin: int, finish: int) -> list[tuple[int, int]]:
    """The stretches of text [begin, finish) to mark: matching terms, overlapping ones joined."""
    stretches: list[tuple[int, int]] = []
    for token in sorted(tokens, key=lambda t: (t.start, t.end)):
        a, b = token.start, token.end
        if a < begin or b > finish:
            continue
        if stretches and a < stretches[-1][1]:
            stretches[-1] = (stretches[-1][0], max(b, stretches[-1][1]))
        else:
            stretches.append((a, b))
    return stretches


def highlight(
    title: str | None, body: str | None, terms: list[str], texts: str | None = None
) -> str:
    text = document_text(title, body, texts)
    tokens = analyse(text)
    units = _units(tokens)
    if not units:
        return html.escape(text, quote=False)
    matches = [m for m in (_match(t, terms) for t in tokens) if m is not None]
    first = min((t.start for t in matches), default=0)
    first_hit = max(i for i, unit in enumerate(units) if unit.start <= first or i == 0)
    start, end = _window(len(units), first_hit)
    begin = units[start].start if start > 0 else 0
    finish = max(u.end for u in units[start:end]) if end < len(units) else len(text)
    parts = [f"{ELLIPSIS} "] if start > 0 else []
    at = begin
    for a, b in _marked(matches, begin, finish):
        parts += [html.escape(text[at:a], quote=False), "<mark>"]
        parts += [html.escape(text[a:b], quote=False), "</mark>"]
        at = b
    parts.append(html.escape(text[at:finish], quote=False))
    if end < len(units):
        parts.append(f" {ELLIPSIS}")
    return "".join(parts)


def _window(count: int, first_hit: int) -> tuple[int, int]:
    """The units shown: [start, end) of `count`, around the first match."""
    if count <= WINDOW:
        return 0, count
    start = max(0, min(first_hit - LEAD, count - WINDOW))
    return start, start + WINDOW
