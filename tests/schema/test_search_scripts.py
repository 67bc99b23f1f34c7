"""search in every script (issue 20): Japanese and Chinese by bigrams, Thai, Lao, Khmer and
Burmese by ICU's word break, diacritics folded, Arabic normalised; the same hits and the same
highlights on both databases; bad input answered with a code, never a 500."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import delete, select, update

from server.models import Institution, LanguageText

SEARCH = """
query Search($q: String!) {
  search(query: $q, types: [INSTITUTION]) {
    totalCount
    edges { highlight node { ... on Institution { nameEn } } }
  }
}
"""

NAMES = [
    ("JP", "University of Tokyo", "東京大学"),
    ("JP", "Kyoto Sangyo University", "京都産業大学"),
    ("TH", "Chiang Mai University", "มหาวิทยาลัยเชียงใหม่"),
    ("LA", "National University of Laos", "ມະຫາວິທະຍາໄລແຫ່ງຊາດລາວ"),
    ("KH", "Royal University of Phnom Penh", "សាកលវិទ្យាល័យភូមិន្ទភ្នំពេញ"),
    ("MM", "University of Yangon", "ရန်ကုန်တက္ကသိုလ်"),
    ("VN", "Vietnam National University, Hanoi", "Đại học Quốc gia Hà Nội"),
    ("EG", "Cairo University", "جامعة القاهرة"),
    ("KR", "Seoul National University", "서울대학교"),
    ("BR", "University of São Paulo", "Universidade de São Paulo"),
    ("CN", "Tsinghua University", "清华大学"),
]


@pytest.fixture
async def names(factory: Any) -> None:
    for country, name_en, name_local in NAMES:
        await factory.institution(country, name_en=name_en, name_local=name_local)


async def _found(gql: Any, query: str) -> list[str]:
    edges = (await gql(SEARCH, {"q": query}))["search"]["edges"]
    return sorted(e["node"]["nameEn"] for e in edges)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        # inside a run of Han characters (the example), any length, one character too
        ("大学", ["Kyoto Sangyo University", "Tsinghua University", "University of Tokyo"]),
        ("東京大学", ["University of Tokyo"]),
        ("産業", ["Kyoto Sangyo University"]),
        ("京", ["Kyoto Sangyo University", "University of Tokyo"]),
        ("华", ["Tsinghua University"]),
        ("華", []),  # the traditional form is another character (no variant folding)
        ("서울대", ["Seoul National University"]),
        # words inside unspaced Thai, Lao, Khmer and Burmese
        ("เชียงใหม่", ["Chiang Mai University"]),
        ("มหาวิทยาลัย", ["Chiang Mai University"]),
        ("ແຫ່ງຊາດ", ["National University of Laos"]),
        ("ភ្នំពេញ", ["Royal University of Phnom Penh"]),
        ("ရန်ကုန်", ["University of Yangon"]),
        # diacritics folded both ways, đ as d
        ("ha noi", ["Vietnam National University, Hanoi"]),
        ("Hà Nội", ["Vietnam National University, Hanoi"]),
        ("dai hoc quoc gia", ["Vietnam National University, Hanoi"]),
        ("ĐẠI HỌC", ["Vietnam National University, Hanoi"]),
        ("sao paulo", ["University of São Paulo"]),
        ("São", ["University of São Paulo"]),
        # Arabic: tashkeel, tatweel and teh marbuta
        ("جَامِعَة", ["Cairo University"]),
        ("جامعه القاهره", ["Cairo University"]),
        ("القاهـــرة", ["Cairo University"]),
        # full-width Latin (NFKC), mixed scripts in one query
        ("ＴＯＫＹＯ", ["University of Tokyo"]),
        ("tokyo 大学", ["University of Tokyo"]),
        ("e\u0301cole tokyo", []),  # combining accent: 'ecole' is no word of theirs
        ("universidade sa\u0303o", ["University of São Paulo"]),  # combining tilde
    ],
)
async def test_every_script_is_found(
    gql: Any, names: None, query: str, expected: list[str]
) -> None:
    assert await _found(gql, query) == expected


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("大学", "University of Tokyo — 東京<mark>大学</mark> JP"),
        ("京", "University of Tokyo — 東<mark>京</mark>大学 JP"),
        (
            "ha noi",  # a prefix: 'ha' marks Hanoi too
            "Vietnam National University, <mark>Hanoi</mark> — Đại học Quốc gia <mark>Hà</mark> "
            "<mark>Nội</mark> VN",
        ),
        ("เชียงใหม่", "Chiang Mai University — มหาวิทยาลัย<mark>เชียงใหม่</mark> TH"),
        ("القاهره", "Cairo University — جامعة <mark>القاهرة</mark> EG"),
    ],
)
async def test_highlights_mark_the_original_text(
    gql: Any, names: None, query: str, expected: str
) -> None:
    edges = (await gql(SEARCH, {"q": query}))["search"]["edges"]
    assert expected in [e["highlight"] for e in edges]


@pytest.mark.parametrize(
    "query",
    ["", "   ", "。、！？", "«»—…", "\u200f\u200e", "\u0301\u0308", "ـــ", "!!! ??? ...", "\u3000"],
)
async def test_queries_without_a_word_are_refused_with_a_code(
    gql: Any, names: None, query: str
) -> None:
    errors = await gql.errors(SEARCH, {"q": query})
    assert errors[0]["extensions"]["code"] == "INVALID_QUERY"


@pytest.mark.parametrize(
    "query",
    [
        "\u202eجامعة\u202c",  # right-to-left override around Arabic
        "东京 ＡＢＣ ภาษา ລາວ ខ្មែរ ဗမာ عربي עברית",  # every script at once
        "a\u0300\u0301\u0302\u0303\u0304" * 20,  # a pile of combining marks
        "\U0001f30f 大学 \U0001f30f",  # symbols beside the words
        "x\x00y",  # a NUL never reaches the database
        "大" * 200,
    ],
)
async def test_odd_queries_are_answered(gql: Any, names: None, query: str) -> None:
    result = (await gql(SEARCH, {"q": query}))["search"]
    assert result["totalCount"] >= 0


async def test_a_changed_name_is_searched_by_its_new_terms(
    gql: Any, names: None, sessions: Any
) -> None:
    async with sessions() as s:  # an ORM write: after the flush
        row = await s.scalar(select(Institution).where(Institution.name_en == "Cairo University"))
        row.name_local = "名古屋大学"
        # around the service: its names in each language (which the search reads too) go
        await s.execute(delete(LanguageText).where(LanguageText.institution_id == row.id))
        await s.commit()
    assert await _found(gql, "名古屋") == ["Cairo University"]
    assert await _found(gql, "القاهرة") == []
    async with sessions() as s:  # a bulk UPDATE statement: before the commit
        await s.execute(
            update(Institution)
            .where(Institution.name_en == "Cairo University")
            .values(name_local="ຫຼວງພະບາງ")
        )
        await s.commit()
    assert await _found(gql, "ຫຼວງພະບາງ") == ["Cairo University"]
    assert await _found(gql, "名古屋") == []
