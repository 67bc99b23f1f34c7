"""Build tests/fixtures/data/search_corpus.json.gz, the search quality corpus (issue 20).

    python scripts/search_corpus.py DIR   # DIR holds {ja,th,vi,id,es,pt,fr,en}.conllu

The sentences come from Universal Dependencies treebanks (tests/fixtures/data/SOURCES.md):
each document is two consecutive sentences (title, body). Queries are words of the
treebanks' own gold tokenisation, drawn with a fixed seed among those found in 1 to 8
documents; their relevant documents are decided here, without the search's analyser:
- ja: the documents whose title or body holds the query as a substring (大学 in 東京大学);
- th: the documents whose sentences hold the query as one of their gold tokens (ลาก, drag,
  is not found inside หลากหลาย, diverse);
- the other languages: the documents with a run of words equal to the query's words, the
  last one as a prefix (search's prefix rule), case and diacritics folded by unicodedata,
  in whatever language the document is (a name is found in the parallel sentences too).
Some queries are typed without their diacritics or in capitals, as users type them.
"""

from __future__ import annotations

import gzip
import json
import random
import re
import sys
import unicodedata
from pathlib import Path
from typing import Any

LANGS = ["ja", "th", "vi", "id", "es", "pt", "fr", "en"]
DOCS_PER_LANG = 300
QUERIES_PER_LANG = 40
MAX_RELEVANT = 8
OUT = Path(__file__).resolve().parents[1] / "tests/fixtures/data/search_corpus.json.gz"
_WORD = re.compile(r"\w+")


def sentences(path: Path) -> list[tuple[str, list[str]]]:
    """(text, surface tokens) of each sentence of a CoNLL-U file."""
    found: list[tuple[str, list[str]]] = []
    text, forms, covered = "", [], 0
    for line in path.read_text(encoding="utf-8").splitlines() + [""]:
        if line.startswith("# text ="):
            text = line[len("# text =") :].strip()
        elif line and not line.startswith("#"):
            cols = line.split("\t")
            if "-" in cols[0]:
                forms.append(cols[1])
                covered = int(cols[0].split("-")[1])
            elif "." not in cols[0] and int(cols[0]) > covered:
                forms.append(cols[1])
        elif not line and text:
            found.append((text, forms))
            text, forms, covered = "", [], 0
    return found


def fold(text: str, lang: str) -> str:
    text = unicodedata.normalize("NFKC", text).casefold()
    if lang in ("ja", "th"):
        return text
    text = text.replace("đ", "d")
    decomposed = unicodedata.normalize("NFD", text)
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return unicodedata.normalize("NFC", stripped)


def relevant(query: str, doc: dict[str, Any], lang: str) -> bool:
    q = fold(query, lang)
    if lang == "th":
        return query in doc["tokens"]
    parts = [fold(doc["title"], doc["lang"]), fold(doc["body"], doc["lang"])]
    if lang == "ja":
        return any(q in part for part in parts)
    wanted = _WORD.findall(q)
    for part in parts:
        words = _WORD.findall(part)
        for i in range(len(words) - len(wanted) + 1):
            window = words[i : i + len(wanted)]
            if window[:-1] == wanted[:-1] and window[-1].startswith(wanted[-1]):
                return True
    return False


def candidate(form: str, lang: str) -> bool:
    if lang == "ja":
        return (
            len(form) >= 2
            and all(
                unicodedata.name(c, "").startswith(("CJK UNIFIED", "KATAKANA", "HIRAGANA"))
                for c in form
            )
            and any(not unicodedata.name(c, "").startswith("HIRAGANA") for c in form)
        )
    if lang == "th":
        return len(form) >= 3 and all("\u0e01" <= c <= "\u0e4e" for c in form)
    words = form.split(" ")
    return all(w.isalpha() for w in words) and len(form.replace(" ", "")) >= 4


def typed(query: str, lang: str, rng: random.Random) -> str:
    """The query as a user may type it: without diacritics, or in capitals, or as written."""
    roll = rng.random()
    if lang in ("vi", "es", "pt", "fr", "id") and roll < 0.4:
        return fold(query, lang)
    if lang not in ("ja", "th") and roll > 0.85:
        return query.upper()
    return query


def build(source: Path) -> dict[str, object]:
    rng = random.Random(20)
    docs: list[dict[str, Any]] = []
    queries: list[dict[str, object]] = []
    forms: dict[str, list[str]] = {}
    for n, lang in enumerate(LANGS):
        sents = [s for s in sentences(source / f"{lang}.conllu") if len(s[0]) <= 400]
        sents = sents[: 2 * DOCS_PER_LANG]
        docs += [
            {
                "id": n * 1000 + i + 1,
                "lang": lang,
                "title": sents[2 * i][0],
                "body": sents[2 * i + 1][0],
                "tokens": set(sents[2 * i][1]) | set(sents[2 * i + 1][1]),
            }
            for i in range(DOCS_PER_LANG)
        ]
        forms[lang] = sorted({f for _, fs in sents for f in fs if candidate(f, lang)})
    for lang in LANGS:
        rng.shuffle(forms[lang])
        chosen = 0
        for form in forms[lang]:
            query = typed(form, lang, rng)
            hits = [int(d["id"]) for d in docs if relevant(query, d, lang)]
            if 1 <= len(hits) <= MAX_RELEVANT:
                queries.append({"lang": lang, "query": query, "relevant": hits})
                chosen += 1
            if chosen == QUERIES_PER_LANG:
                break
    for doc in docs:
        del doc["tokens"]
    return {"docs": docs, "queries": queries}


if __name__ == "__main__":
    corpus = build(Path(sys.argv[1]))
    OUT.write_bytes(gzip.compress(json.dumps(corpus, ensure_ascii=False).encode(), mtime=0))
    print(f"{len(corpus['docs'])} documents, {len(corpus['queries'])} queries -> {OUT}")
