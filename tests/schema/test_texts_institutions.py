"""Institutions' names in each language (issue 20): `names` written and read, `nameEn` and
`nameLocal` kept as they were (written alone they keep the other languages), the fallback
chain of `name(lang:)`, and names of institutions written around the service read from
their columns; every read compared between the compiled path and strawberry."""

from __future__ import annotations

from sqlalchemy import func, select

from server.models import Institution, LanguageText
from server.models.enums import AccountRole, InstitutionKind
from tests.factories import gid
from tests.schema.test_texts import both

TEXT = "{ lang value original translated }"
FIELDS = f"id nameEn nameLocal name names {TEXT}"
CREATE = f"""mutation($input: CreateInstitutionInput!) {{
  createInstitution(input: $input) {{ institution {{ {FIELDS} }} errors {{ field code }} }} }}"""
UPDATE = f"""mutation($input: UpdateInstitutionInput!) {{
  updateInstitution(input: $input) {{ institution {{ {FIELDS} }} errors {{ field code }} }} }}"""
READ = f"""query($id: ID!) {{ node(id: $id) {{ ... on Institution {{ {FIELDS}
    th: name(lang: "th") ja: name(lang: "ja") km: name(lang: "km") }} }} }}"""
PAGE = f"""{{ institutions(first: 50) {{ nodes {{ {FIELDS} ja: name(lang: "ja") }} }} }}"""
CHULA = [
    {"lang": "th", "value": "จุฬาลงกรณ์มหาวิทยาลัย"},
    {"lang": "en", "value": "Chulalongkorn University"},
    {"lang": "ja", "value": "チュラーロンコーン大学", "translated": True},
]


def text(lang: str, value: str, original: bool = False, translated: bool = False) -> dict:
    return {"lang": lang, "value": value, "original": original, "translated": translated}


async def test_names_in_each_language(admin, make_token, compiled_client, strawberry_client):
    payload = (
        await admin(CREATE, {"input": {"names": CHULA, "country": "TH", "kind": "UNIVERSITY"}})
    )["createInstitution"]
    assert payload["errors"] == []
    made = payload["institution"]
    assert (made["nameEn"], made["nameLocal"], made["name"]) == (
        "Chulalongkorn University",
        "จุฬาลงกรณ์มหาวิทยาลัย",
        "Chulalongkorn University",
    )
    assert made["names"] == [
        text("th", CHULA[0]["value"], original=True),
        text("en", CHULA[1]["value"]),
        text("ja", CHULA[2]["value"], translated=True),
    ]
    token = await make_token(AccountRole.ADMIN)
    for language, expected in ((None, 1), ("ja, th;q=0.5", 2), ("th", 0), ("de, km", 1)):
        node = (
            await both(
                compiled_client, strawberry_client, token, READ, {"id": made["id"]}, language
            )
        )["data"]["node"]
        assert node["name"] == CHULA[expected]["value"], language
        assert (node["th"], node["ja"]) == (CHULA[0]["value"], CHULA[2]["value"])
        assert node["km"] == CHULA[expected]["value"]  # no Khmer: on down the chain


async def test_the_two_name_fields_as_before(admin, make_token, compiled_client, strawberry_client):
    tokyo = (
        await admin(
            CREATE,
            {
                "input": {
                    "nameEn": "The University of Tokyo",
                    "nameLocal": "東京大学",
                    "country": "JP",
                    "kind": "UNIVERSITY",
                }
            },
        )
    )["createInstitution"]["institution"]
    assert tokyo["names"] == [
        text("ja", "東京大学", original=True),
        text("en", "The University of Tokyo"),
    ]
    delhi = (
        await admin(
            CREATE,
            {
                "input": {
                    "nameEn": "IIT Delhi",
                    "nameLocal": "आईआईटी दिल्ली",
                    "country": "IN",
                    "kind": "UNIVERSITY",
                }
            },
        )
    )["createInstitution"]["institution"]
    assert delhi["names"][0] == text("und", "आईआईटी दिल्ली", original=True)  # several official
    added = (
        await admin(
            UPDATE,
            {
                "input": {
                    "id": tokyo["id"],
                    "names": [
                        *({"lang": t["lang"], "value": t["value"]} for t in tokyo["names"]),
                        {"lang": "th", "value": "มหาวิทยาลัยโตเกียว", "translated": True},
                    ],
                }
            },
        )
    )["updateInstitution"]
    assert added["errors"] == []
    renamed = (await admin(UPDATE, {"input": {"id": tokyo["id"], "nameLocal": "東京大學"}}))[
        "updateInstitution"
    ]["institution"]
    assert renamed["names"] == [
        text("ja", "東京大學", original=True),
        text("en", "The University of Tokyo"),
        text("th", "มหาวิทยาลัยโตเกียว", translated=True),  # kept
    ]
    cleared = (await admin(UPDATE, {"input": {"id": tokyo["id"], "nameLocal": None}}))[
        "updateInstitution"
    ]["institution"]
    assert cleared["nameLocal"] is None
    assert [(t["lang"], t["original"]) for t in cleared["names"]] == [("en", True), ("th", False)]
    token = await make_token(AccountRole.ADMIN)
    for language in (None, "ja", "hi, th;q=0.2"):
        await both(compiled_client, strawberry_client, token, PAGE, {}, language)


async def test_institutions_written_around_the_service_read_from_their_columns(
    admin, sessions, make_token, compiled_client, strawberry_client
):
    async with sessions() as session:
        rows = [
            Institution(
                name_en="Hanoi University of Science",
                name_local="Đại học Khoa học",
                country_code="VN",
                kind=InstitutionKind.UNIVERSITY,
            ),
            Institution(name_en="World Fish", country_code="MY", kind=InstitutionKind.NGO),
            Institution(
                name_en="Nairobi Lab",
                name_local="Maabara",
                country_code="KE",
                kind=InstitutionKind.RESEARCH_INSTITUTE,
            ),
        ]
        session.add_all(rows)
        await session.commit()
        ids = [gid("Institution", r.id) for r in rows]
    token = await make_token(AccountRole.ADMIN)
    hanoi = (await both(compiled_client, strawberry_client, token, READ, {"id": ids[0]}, "vi"))[
        "data"
    ]["node"]
    assert hanoi["names"] == [
        text("vi", "Đại học Khoa học", original=True),
        text("en", "Hanoi University of Science"),
    ]
    assert hanoi["name"] == "Đại học Khoa học"
    fish = (await both(compiled_client, strawberry_client, token, READ, {"id": ids[1]}))["data"]
    assert fish["node"]["names"] == [text("en", "World Fish", original=True)]
    nairobi = (await both(compiled_client, strawberry_client, token, READ, {"id": ids[2]}, "sw"))[
        "data"
    ]["node"]
    assert (nairobi["name"], nairobi["ja"]) == ("Nairobi Lab", "Nairobi Lab")  # und, English
    assert nairobi["names"][0] == text("und", "Maabara", original=True)
    for language in (None, "vi", "sw, ms"):
        await both(compiled_client, strawberry_client, token, PAGE, {}, language)


async def test_bad_names_are_refused_and_write_nothing(admin, sessions):
    base = {"country": "TH", "kind": "UNIVERSITY"}
    cases = [
        ({"names": []}, ("names", "REQUIRED")),
        ({"names": [{"lang": "th", "value": ""}]}, ("names[0].value", "REQUIRED")),
        (
            {"names": [{"lang": "zz-Latn", "value": "x"}]},
            ("names[0].lang", "UNKNOWN_LANGUAGE"),
        ),
        ({"names": CHULA, "nameEn": "Chula"}, ("nameEn", "CONFLICT")),
        (
            {"names": [*CHULA, {"lang": "TH", "value": "x"}]},
            ("names[3].lang", "DUPLICATE_LANGUAGE"),
        ),
        ({}, ("nameEn", "REQUIRED")),
    ]
    for values, expected in cases:
        payload = (await admin(CREATE, {"input": {**base, **values}}))["createInstitution"]
        assert payload["institution"] is None
        assert expected in {(e["field"], e["code"]) for e in payload["errors"]}, payload
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Institution)) == 0
        owned = select(func.count()).where(LanguageText.institution_id.is_not(None))
        assert await session.scalar(owned) == 0
