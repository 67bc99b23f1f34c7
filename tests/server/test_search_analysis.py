"""The search analyser (server/search/analysis.py): the terms of each script, where in the
original text each comes from, and PostgreSQL's tsvector literal built from them."""

from __future__ import annotations

import pytest

from server.search.analysis import analyse, document_terms, fold_text, query_terms, words
from server.search.documents import stream, tsvector


@pytest.mark.parametrize(
    ("text", "terms"),
    [
        ("東京大学", ["東京", "京大", "大学", "学"]),  # bigrams, and the run's last character
        ("大", ["大"]),
        ("カタカナ語", ["カタ", "タカ", "カナ", "ナ語", "語"]),
        ("ｶﾀｶﾅ", ["カタ", "タカ", "カナ", "ナ"]),  # half-width Katakana made full-width
        ("서울대학교", ["서울", "울대", "대학", "학교", "교"]),  # Hangul keeps its syllables
        ("มหาวิทยาลัยเชียงใหม่", ["มหาวิทยาลัย", "เชียงใหม่"]),
        ("ມະຫາວິທະຍາໄລແຫ່ງຊາດລາວ", ["ມະຫາວິທະຍາໄລ", "ແຫ່ງຊາດ", "ລາວ"]),
        ("ភ្នំពេញ", ["ភ្នំពេញ"]),
        ("Đại học Quốc gia Hà Nội", ["dai", "hoc", "quoc", "gia", "ha", "noi"]),
        ("Ａｃｃｅｓｓ ﬁle", ["access", "file"]),
        ("الْعَرَبِيَّة أَحْمَد إِسْلَام آمن مدرســة", ["العربيه", "احمد", "اسلام", "امن", "مدرسه"]),
        ("precipitation_mm, l'école", ["precipitation", "mm", "l", "ecole"]),
        ("AI研究 2024年", ["ai", "研究", "究", "2024", "年"]),
        ("。、！？ — «»", []),
    ],
)
def test_terms_of_each_script(text: str, terms: list[str]) -> None:
    assert document_terms(text) == terms


def test_a_query_keeps_bigrams_only_and_says_each_term_once() -> None:
    assert query_terms("東京大学 東京") == ["東京", "京大", "大学"]
    assert query_terms("学") == ["学"]
    assert query_terms("Ha ha HA") == ["ha"]


def test_terms_point_into_the_original_text() -> None:
    text = "ｶﾀ Hà\u0300 e\u0301cole 東京 ﬁx"
    spans = [(t.term, text[t.start : t.end]) for t in analyse(text)]
    assert spans == [
        ("カタ", "ｶﾀ"),
        ("タ", "ﾀ"),
        ("ha", "Hà\u0300"),
        ("ecole", "e\u0301cole"),
        ("東京", "東京"),
        ("京", "京"),
        ("fix", "ﬁx"),
    ]


def test_folding_leaves_thai_and_lao_as_written() -> None:
    assert fold_text("ทำ ຄຳ") == "ทำ ຄຳ"  # NFKC would split SARA AM into two characters
    assert fold_text("ĐẠI Straße Ørsted") == "dai strasse orsted"


def test_words_count_what_a_writer_typed() -> None:
    assert len(words("東京大学 の 研究")) == 3
    assert len(words("a\u0300\u0301 b")) == 2  # marks stay with their letter
    assert words("!!! ... ？") == []


def test_tsvector_and_fts_stream() -> None:
    assert tsvector("東京大学", "大学 it's") == (
        "'東京':2A '京大':3A '大学':4A,7B '学':5A,8B 'it':9B 's':10B"
    )
    assert stream("Hà Nội 大学") == "ha noi 大学 学"


def test_a_huge_body_fits_a_tsvector() -> None:
    body = " ".join(f"term{i}" for i in range(150_000))  # the text of many files, 1.4 MB
    literal = tsvector("title", body)
    assert len(literal.encode()) < 1_000_000
    assert len(stream(body).split()) == len(body[:100_000].split())
