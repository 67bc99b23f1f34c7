"""Search quality, measured (issue 20): 2,400 documents in eight languages from Universal
Dependencies treebanks (tests/fixtures/data/SOURCES.md, built by scripts/search_corpus.py),
320 queries whose relevant documents were decided without the search's analyser. Per
language, over its 40 queries: recall@10 (the relevant documents among the first ten hits,
over all relevant ones, at most 8) at least 0.95 and precision@10 (the relevant ones among
the first ten hits returned) at least 0.8, on SQLite and on PostgreSQL, as an anonymous
caller (the access rules in the SQL apply)."""

from __future__ import annotations

import gzip
import json
from collections import defaultdict
from pathlib import Path
from typing import Any

from server.access.auth import ANONYMOUS
from server.models import Project
from server.models.enums import ProjectPhase
from server.search.queries import SearchType, search

CORPUS = Path(__file__).parents[1] / "fixtures/data/search_corpus.json.gz"
RECALL, PRECISION = 0.95, 0.8


def corpus() -> dict[str, Any]:
    return json.loads(gzip.decompress(CORPUS.read_bytes()))  # type: ignore[no-any-return]


async def _figures(sessions: Any) -> dict[str, tuple[float, float, int]]:
    data = corpus()
    async with sessions() as s:
        rows = {
            doc["id"]: Project(
                title=doc["title"], summary=doc["body"], phase=ProjectPhase.IMPLEMENTATION
            )
            for doc in data["docs"]
        }
        s.add_all(rows.values())
        await s.commit()
    doc_of = {row.id: doc_id for doc_id, row in rows.items()}
    per_lang: dict[str, list[tuple[float, float]]] = defaultdict(list)
    async with sessions() as s:
        for q in data["queries"]:
            results = await search(s, ANONYMOUS, q["query"], [SearchType.PROJECT], 10, None)
            found = [doc_of.get(hit.id) for hit in results.hits]
            good = len(set(found) & set(q["relevant"]))
            precision = good / len(found) if found else 0.0
            per_lang[q["lang"]].append((good / len(q["relevant"]), precision))
    return {
        lang: (
            sum(r for r, _ in scores) / len(scores),
            sum(p for _, p in scores) / len(scores),
            len(scores),
        )
        for lang, scores in per_lang.items()
    }


async def test_recall_and_precision_at_10_per_language(sessions: Any, dialect: str) -> None:
    figures = await _figures(sessions)
    print(f"\nsearch quality on {dialect}: lang recall@10 precision@10 (queries)")
    for lang, (recall, precision, n) in figures.items():
        print(f"  {lang}  {recall:.3f}  {precision:.3f}  ({n})")
    assert len(figures) >= 8
    failing = {
        lang: (round(r, 3), round(p, 3))
        for lang, (r, p, _) in figures.items()
        if r < RECALL or p < PRECISION
    }
    assert failing == {}, failing


def test_the_corpus_is_as_described() -> None:
    data = corpus()
    langs = {doc["lang"] for doc in data["docs"]}
    assert len(data["docs"]) >= 2000 and {"ja", "th", "vi", "id", "es", "pt", "fr", "en"} <= langs
    assert all(1 <= len(q["relevant"]) <= 8 for q in data["queries"])
    assert CORPUS.stat().st_size < 2_000_000
