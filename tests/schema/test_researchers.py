"""Researchers, ORCID iDs and affiliations."""

from __future__ import annotations

from server.models.enums import AccountRole
from tests.factories import gid

CREATE = """mutation($input: CreateResearcherInput!) {
  createResearcher(input: $input) {
    researcher { id nameEn nameLocal orcid orcidUrl email }
    errors { field code message } } }"""
AFFILIATE = """mutation($input: AddAffiliationInput!) {
  addAffiliation(input: $input) {
    affiliation { title startDate endDate institution { nameEn } }
    errors { field code message } } }"""


def codes(payload: dict) -> set[tuple[str | None, str]]:
    return {(e["field"], e["code"]) for e in payload["errors"]}


async def test_orcid_format_and_checksum_errors_differ(admin):
    """issue 18 item 7: a malformed iD says so; a mistyped digit says checksum."""
    for raw in ("hello", "0000-0002-1825", "0000-0002-1825-00977"):
        wrong = (await admin(CREATE, {"input": {"nameEn": "F", "orcid": raw}}))["createResearcher"]
        assert codes(wrong) == {("orcid", "INVALID_ORCID")}, raw
        assert "format" in wrong["errors"][0]["message"]
        assert "checksum" not in wrong["errors"][0]["message"]
    checksum = (await admin(CREATE, {"input": {"nameEn": "C", "orcid": "0000-0002-1825-0098"}}))[
        "createResearcher"
    ]
    assert codes(checksum) == {("orcid", "INVALID_ORCID_CHECKSUM")}
    isni = (await admin(CREATE, {"input": {"nameEn": "I", "orcid": "0000-0001-2281-955X"}}))[
        "createResearcher"
    ]
    assert codes(isni) == {("orcid", "INVALID_ORCID")}
    assert "ranges ORCID issues" in isni["errors"][0]["message"]


async def test_create_researcher_with_orcid(admin):
    payload = (
        await admin(
            CREATE,
            {
                "input": {
                    "nameEn": "Josiah Carberry",
                    "nameLocal": "ジョサイア",
                    "orcid": "https://orcid.org/0000-0002-1825-0097",
                    "email": "jc@example.org",
                }
            },
        )
    )["createResearcher"]
    assert payload["errors"] == []
    assert payload["researcher"]["orcid"] == "0000-0002-1825-0097"
    assert payload["researcher"]["orcidUrl"] == "https://orcid.org/0000-0002-1825-0097"


async def test_orcid_checksum_and_duplicates(admin):
    bad = (await admin(CREATE, {"input": {"nameEn": "A", "orcid": "0000-0002-1825-0098"}}))[
        "createResearcher"
    ]
    assert codes(bad) == {("orcid", "INVALID_ORCID_CHECKSUM")}
    assert "check digit" in bad["errors"][0]["message"]
    x_digit = {"nameEn": "B", "orcid": "0000-0002-1694-233x"}
    ok = (await admin(CREATE, {"input": x_digit}))["createResearcher"]
    assert ok["researcher"]["orcid"] == "0000-0002-1694-233X"
    dup = (await admin(CREATE, {"input": {**x_digit, "orcid": "0000-0002-1694-233X"}}))[
        "createResearcher"
    ]
    assert codes(dup) == {("orcid", "DUPLICATE_ORCID")}
    mixed = (
        await admin(CREATE, {"input": {"nameEn": "", "email": "not-an-email", "orcid": "1234"}})
    )["createResearcher"]
    assert codes(mixed) == {
        ("nameEn", "REQUIRED"),
        ("email", "INVALID_EMAIL"),
        ("orcid", "INVALID_ORCID"),
    }


async def test_email_is_for_signed_in_callers(gql, factory):
    researcher = await factory.researcher(name_en="Mail Holder", email="m@example.org")
    query = (
        f'{{ node(id: "{gid("Researcher", researcher.id)}") {{ ... on Researcher {{ email }} }} }}'
    )
    assert (await gql(query))["node"]["email"] is None


async def test_email_shown_to_a_token_holder(admin, factory):
    researcher = await factory.researcher(name_en="Mail Holder", email="m@example.org")
    query = (
        f'{{ node(id: "{gid("Researcher", researcher.id)}") {{ ... on Researcher {{ email }} }} }}'
    )
    assert (await admin(query))["node"]["email"] == "m@example.org"


async def test_affiliations_by_self_or_staff(gql, make_token, factory):
    me = await factory.researcher(name_en="Self")
    other = await factory.researcher(name_en="Other")
    inst = await factory.institution(name_en="Tohoku University")
    client = gql.as_(await make_token(AccountRole.RESEARCHER, researcher_id=me.id))
    given = {
        "researcherId": gid("Researcher", me.id),
        "institutionId": gid("Institution", inst.id),
        "title": "Professor",
        "startDate": "2020-04-01",
    }
    payload = (await client(AFFILIATE, {"input": given}))["addAffiliation"]
    assert payload["errors"] == []
    assert payload["affiliation"] == {
        "title": "Professor",
        "startDate": "2020-04-01",
        "endDate": None,
        "institution": {"nameEn": "Tohoku University"},
    }
    denied = (
        await client(AFFILIATE, {"input": {**given, "researcherId": gid("Researcher", other.id)}})
    )["addAffiliation"]
    assert codes(denied) == {(None, "FORBIDDEN")}
    bad_period = (await client(AFFILIATE, {"input": {**given, "endDate": "2019-01-01"}}))[
        "addAffiliation"
    ]
    assert codes(bad_period) == {("endDate", "INVALID_PERIOD")}
    unknown = (
        await client(AFFILIATE, {"input": {**given, "institutionId": gid("Institution", 999_999)}})
    )["addAffiliation"]
    assert codes(unknown) == {("institutionId", "NOT_FOUND")}
    wrong_type = (await client(AFFILIATE, {"input": {**given, "institutionId": gid("Theme", 1)}}))[
        "addAffiliation"
    ]
    assert codes(wrong_type) == {("institutionId", "INVALID_ID")}

    listing = await gql(
        """query($i: ID) { researchers(filter: {institutionId: $i}) { nodes { nameEn affiliations { title } } } }""",
        {"i": gid("Institution", inst.id)},
    )
    assert listing["researchers"]["nodes"] == [
        {"nameEn": "Self", "affiliations": [{"title": "Professor"}]}
    ]


async def test_researcher_filters(gql, factory):
    await factory.researcher(
        name_en="Yamada Taro", name_local="山田太郎", orcid="0000-0002-1825-0097"
    )
    await factory.researcher(name_en="Nguyen Van An")
    query = (
        "query($f: ResearcherFilter) { researchers(filter: $f) { totalCount nodes { nameEn } } }"
    )
    assert (await gql(query, {"f": {"name": "山田"}}))["researchers"]["nodes"] == [
        {"nameEn": "Yamada Taro"}
    ]
    assert (await gql(query, {"f": {"orcid": "https://orcid.org/0000-0002-1825-0097"}}))[
        "researchers"
    ]["nodes"] == [{"nameEn": "Yamada Taro"}]
    assert (await gql(query, {"f": {"name": "nguyen"}}))["researchers"]["totalCount"] == 1
