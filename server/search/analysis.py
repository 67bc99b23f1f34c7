"""The text analyser of search: one set of rules for what is indexed and what is asked, the
same on SQLite and PostgreSQL (the databases only match and rank the terms it makes).

Each character is normalised on its own, so that every term knows where it stands in the
original text (highlights mark the original): NFKC (full-width letters, ligatures, Arabic
presentation forms), case folded, diacritics dropped (Vietnamese, Spanish, French: 'Hà Nội'
reads 'ha noi'; đ reads d), Arabic's tashkeel and tatweel dropped and its alef forms made one
(as Lucene's ArabicNormalizer). Thai and Lao keep their letters as written (NFKC would split
SARA AM), Hangul keeps its syllables.

Then runs of one kind of script make terms:
- Han, Hiragana, Katakana and Hangul: overlapping character bigrams, as Lucene's CJKAnalyzer
  (東京大学: 東京 京大 大学). A document also indexes its run's last character alone, so a
  one-character query (a prefix) finds a character wherever it stands.
- Thai, Lao, Khmer and Burmese: ICU's dictionary word break (icu4py's WordBreaker).
- Every other script: the run of letters, digits and marks is the word.
A query's terms all match as prefixes (server/search/queries.py)."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

from icu4py.breakers import WordBreaker

MAX_TERM = 100  # characters: a longer run is cut (PostgreSQL's lexemes stop at 2 KiB)

Kind = Literal["word", "cjk", "segmented"]

_FOLD = {
    "đ": "d",
    "ð": "d",
    "ø": "o",
    "ł": "l",
    "ı": "i",
    "æ": "ae",
    "œ": "oe",
    "ħ": "h",
    "ŧ": "t",
    "ٱ": "ا",  # alef wasla (أ إ آ lose their hamza and madda as marks)
    "ى": "ي",  # alef maksura
    "ة": "ه",  # teh marbuta
    "ـ": "",  # tatweel
}
_DROPPED_MARKS = (
    (0x0300, 0x036F),  # combining diacritical marks (Latin, Greek, Cyrillic)
    (0x0591, 0x05C7),  # Hebrew points
    (0x0610, 0x061A),  # Arabic signs
    (0x064B, 0x065F),  # Arabic tashkeel, hamza and madda above and below
    (0x0670, 0x0670),  # superscript alef
    (0x06D6, 0x06ED),  # Quranic marks
    (0x1AB0, 0x1AFF),
    (0x1DC0, 0x1DFF),
    (0x20D0, 0x20FF),
    (0xFE20, 0xFE2F),
)
_CJK = (
    (0x1100, 0x11FF),  # Hangul jamo
    (0x2E80, 0x2FDF),  # radicals
    (0x3005, 0x3007),  # 々 〆 〇
    (0x3040, 0x30FF),  # Hiragana, Katakana
    (0x3130, 0x318F),  # Hangul compatibility jamo
    (0x31F0, 0x31FF),
    (0x3400, 0x4DBF),
    (0x4E00, 0x9FFF),
    (0xAC00, 0xD7AF),  # Hangul syllables
    (0xF900, 0xFAFF),
    (0xFF66, 0xFF9F),  # half-width Katakana (NFKC makes them full-width first)
    (0x20000, 0x3FFFF),
)
_SEGMENTED = (
    (0x0E00, 0x0EFF),  # Thai, Lao
    (0x1000, 0x109F),  # Myanmar
    (0x1780, 0x17FF),  # Khmer
    (0x19E0, 0x19FF),
    (0xA9E0, 0xA9FF),
    (0xAA60, 0xAA7F),
)
_AS_WRITTEN = ((0x0E00, 0x0EFF), (0xAC00, 0xD7AF))  # Thai, Lao; Hangul syllables


@dataclass(frozen=True)
class Token:
    term: str
    start: int  # in the original text
    end: int
    kind: Kind


def _within(code: int, ranges: tuple[tuple[int, int], ...]) -> bool:
    return any(low <= code <= high for low, high in ranges)


@lru_cache(maxsize=65536)
def fold(char: str) -> str:
    """One character as search reads it: normalised, case folded, without diacritics."""
    if _within(ord(char), _AS_WRITTEN):
        return char
    decomposed = unicodedata.normalize("NFD", unicodedata.normalize("NFKC", char).casefold())
    kept = "".join(_FOLD.get(c, c) for c in decomposed if not _within(ord(c), _DROPPED_MARKS))
    return unicodedata.normalize("NFC", kept)


def fold_text(text: str) -> str:
    return "".join(fold(c) for c in text)


@lru_cache(maxsize=65536)
def _kind(char: str) -> Kind | None:
    code = ord(char)
    if _within(code, _CJK):
        return "cjk"
    if _within(code, _SEGMENTED):
        return "segmented"
    category = unicodedata.category(char)
    return "word" if category[0] in "LNM" else None


def _runs(text: str) -> list[tuple[Kind, str, list[int]]]:
    """The folded text cut into runs of one kind, each with its characters' origins."""
    runs: list[tuple[Kind, str, list[int]]] = []
    chars: list[str] = []
    origins: list[int] = []
    current: Kind | None = None
    for index, char in enumerate(text):
        for c in fold(char):
            kind = _kind(c)
            if kind is not None and unicodedata.category(c)[0] == "M" and current is not None:
                kind = current  # a mark goes with the letter it sits on
            if kind != current and chars:
                runs.append((current, "".join(chars), origins))  # type: ignore[arg-type]
                chars, origins = [], []
            current = kind
            if kind is not None:
                chars.append(c)
                origins.append(index)
    if chars and current is not None:
        runs.append((current, "".join(chars), origins))
    return runs


def _segments(run: str) -> list[tuple[int, int]]:
    return [
        (a, b)
        for a, b in WordBreaker(run, "und").segments()
        if any(_kind(c) is not None for c in run[a:b])
    ]


def _past_marks(text: str, end: int) -> int:
    """The end of a term in the original, past the marks folding dropped (Hà\u0300)."""
    while end < len(text) and unicodedata.category(text[end]).startswith("M"):
        end += 1
    return end


def analyse(text: str, *, query: bool = False) -> list[Token]:
    """The terms of `text` in order, each with the span of the original it comes from.
    A query's CJK run of two or more characters gives its bigrams only; a document's also
    gives its last character alone."""
    tokens: list[Token] = []
    for kind, run, origins in _runs(text):
        if kind == "word":
            spans = [(0, len(run))]
        elif kind == "segmented":
            spans = _segments(run)
        else:
            spans = [(i, i + 2) for i in range(len(run) - 1)]
            if len(run) == 1 or not query:
                spans.append((len(run) - 1, len(run)))
        for a, b in spans:
            term = run[a:b][:MAX_TERM]
            tokens.append(Token(term, origins[a], _past_marks(text, origins[b - 1] + 1), kind))
    return tokens


def words(text: str) -> list[str]:
    """The runs of one script a text holds, as folded: what its writer would call words."""
    return [run for _, run, _ in _runs(text)]


def query_terms(text: str) -> list[str]:
    """A query's distinct terms, in order."""
    return list(dict.fromkeys(t.term for t in analyse(text, query=True)))


def document_terms(text: str) -> list[str]:
    """The terms a document is indexed by, in order, repeats kept (they weigh in the rank)."""
    return [t.term for t in analyse(text)]
