"""Institutions and countries through the HTTP API."""

from __future__ import annotations

from server.models.enums import AccountRole
from tests.factories import gid

CREATE = """
mutation($input: CreateInstitutionInput!) {
  createInstitution(input: $input) {
    institution { id nameEn nameLocal acronym kind rorId rorUrl website country { code name } }
    errors { field code message }
  }
}"""
UPDATE = """
mutation($input: UpdateInstitutionInput!) {
  updateInstitution(input: $input) {
    institution { id nameEn acronym rorId country { code } }
    errors { field code message }
  }
}"""
COUNT = "{ institutions { totalCount } }"
TOKYO = {
    "nameEn": "The University of Tokyo",
    "nameLocal": "東京大学",
    "acronym": "UTokyo",
    "country": "jp",
    "kind": "UNIVERSITY",
    "rorId": "https://ror.org/057zh3y96",
    "website": "https://www.u-tokyo.ac.jp/",
}


def codes(payload: dict) -> set[tuple[str | None, str]]:
    return {(e["field"], e["code"]) for e in payload["errors"]}


async def test_create_institution_normalises_identifiers(admin):
    data = await admin(CREATE, {"input": TOKYO})
    payload = data["createInstitution"]
    assert payload["errors"] == []
    inst = payload["institution"]
    assert inst["rorId"] == "057zh3y96"
    assert inst["rorUrl"] == "https://ror.org/057zh3y96"
    assert inst["country"] == {"code": "JP", "name": "Japan"}
    assert inst["nameLocal"] == "東京大学"
    assert inst["kind"] == "UNIVERSITY"


async def test_invalid_fields_are_all_reported_and_nothing_is_written(admin):
    before = (await admin(COUNT))["institutions"]["totalCount"]
    bad = {
        "nameEn": "x" * 301,
        "country": "XX",
        "kind": "NGO",
        "rorId": "057zh3y97",  # checksum off by one
        "website": "ftp://example.org",
        "acronym": "A" * 33,
    }
    payload = (await admin(CREATE, {"input": bad}))["createInstitution"]
    assert payload["institution"] is None
    assert codes(payload) == {
        ("nameEn", "TOO_LONG"),
        ("country", "INVALID_COUNTRY"),
        ("rorId", "INVALID_ROR"),
        ("website", "INVALID_URL"),
        ("acronym", "TOO_LONG"),
    }
    assert (await admin(COUNT))["institutions"]["totalCount"] == before


async def test_blank_name_and_control_characters_are_refused(admin):
    payload = (await admin(CREATE, {"input": {**TOKYO, "nameEn": "   ", "rorId": None}}))[
        "createInstitution"
    ]
    assert codes(payload) == {("nameEn", "REQUIRED")}
    payload = (await admin(CREATE, {"input": {**TOKYO, "nameEn": "a\x00b", "rorId": None}}))[
        "createInstitution"
    ]
    assert codes(payload) == {("nameEn", "INVALID_TEXT")}


async def test_duplicate_ror_is_refused(admin):
    await admin(CREATE, {"input": TOKYO})
    payload = (await admin(CREATE, {"input": {**TOKYO, "rorId": "057ZH3Y96"}}))["createInstitution"]
    assert codes(payload) == {("rorId", "DUPLICATE_ROR")}


async def test_update_changes_only_given_fields(admin):
    created = (await admin(CREATE, {"input": TOKYO}))["createInstitution"]["institution"]
    payload = (await admin(UPDATE, {"input": {"id": created["id"], "acronym": "UT"}}))[
        "updateInstitution"
    ]
    assert payload["errors"] == []
    assert payload["institution"]["acronym"] == "UT"
    assert payload["institution"]["nameEn"] == TOKYO["nameEn"]
    assert payload["institution"]["rorId"] == "057zh3y96"
    # the institution may keep its own ROR id
    same = {"id": created["id"], "rorId": "057zh3y96"}
    assert (await admin(UPDATE, {"input": same}))["updateInstitution"]["errors"] == []
    cleared = {"id": created["id"], "rorId": None}
    inst = (await admin(UPDATE, {"input": cleared}))["updateInstitution"]["institution"]
    assert inst["rorId"] is None


async def test_update_errors(admin, factory):
    inst = await factory.institution()
    cases = [
        ({"id": gid("Institution", 999_999), "acronym": "X"}, {("id", "NOT_FOUND")}),
        ({"id": gid("Project", inst.id), "acronym": "X"}, {("id", "INVALID_ID")}),
        ({"id": gid("Institution", inst.id)}, {(None, "NOTHING_TO_UPDATE")}),
        ({"id": gid("Institution", inst.id), "nameEn": None}, {("nameEn", "REQUIRED")}),
        ({"id": gid("Institution", inst.id), "kind": None}, {("kind", "REQUIRED")}),
        ({"id": gid("Institution", inst.id), "country": "ZZ"}, {("country", "INVALID_COUNTRY")}),
    ]
    for given, expected in cases:
        payload = (await admin(UPDATE, {"input": given}))["updateInstitution"]
        assert payload["institution"] is None
        assert codes(payload) == expected, given


async def test_writes_need_a_token_and_a_staff_role(gql, make_token):
    anonymous = (await gql(CREATE, {"input": TOKYO}))["createInstitution"]
    assert codes(anonymous) == {(None, "UNAUTHENTICATED")}
    researcher = gql.as_(await make_token(AccountRole.RESEARCHER))
    payload = (await researcher(CREATE, {"input": TOKYO}))["createInstitution"]
    assert codes(payload) == {(None, "FORBIDDEN")}
    manager = gql.as_(await make_token(AccountRole.PROGRAM_MANAGER))
    assert (await manager(CREATE, {"input": TOKYO}))["createInstitution"]["errors"] == []


async def test_filter_institutions(gql, factory):
    await factory.institution("JP", name_en="Kyoto University", name_local="京都大学")
    await factory.institution("TH", name_en="Chulalongkorn University", acronym="CU")
    await factory.institution("TH", kind="research_institute", name_en="Thai Meteorological Lab")
    query = """query($f: InstitutionFilter) {
        institutions(filter: $f, first: 50) { totalCount nodes { nameEn } } }"""

    async def names(flt: dict) -> set[str]:
        data = await gql(query, {"f": flt})
        return {n["nameEn"] for n in data["institutions"]["nodes"]}

    assert await names({"country": "th"}) == {
        "Chulalongkorn University",
        "Thai Meteorological Lab",
    }
    assert await names({"country": "TH", "kind": "RESEARCH_INSTITUTE"}) == {
        "Thai Meteorological Lab"
    }
    assert await names({"name": "京都"}) == {"Kyoto University"}
    assert await names({"name": "cu"}) >= {"Chulalongkorn University"}


async def test_countries_include_japan_and_partners(gql):
    data = await gql("{ countries { code name } }")
    by_code = {c["code"]: c["name"] for c in data["countries"]}
    assert by_code["JP"] == "Japan"
    assert len(by_code) == 249


# --- same name, same country (issue 18 item 12) -------------------------------------------

KYOTO = {"nameEn": "Kyoto University", "country": "JP", "kind": "UNIVERSITY"}


async def test_a_same_name_same_country_institution_is_refused_naming_the_first(admin):
    first = (await admin(CREATE, {"input": KYOTO}))["createInstitution"]
    assert first["errors"] == []
    before = (await admin(COUNT))["institutions"]["totalCount"]
    for name in ("Kyoto University", "  kyoto   UNIVERSITY ", "Ｋｙｏｔｏ Ｕｎｉｖｅｒｓｉｔｙ"):
        again = (await admin(CREATE, {"input": {**KYOTO, "nameEn": name}}))["createInstitution"]
        assert codes(again) == {("nameEn", "DUPLICATE_INSTITUTION")}, name
        assert first["institution"]["id"] in again["errors"][0]["message"]
        assert "differentBody" in again["errors"][0]["message"]
    assert (await admin(COUNT))["institutions"]["totalCount"] == before


async def test_another_country_or_an_explicit_different_body_is_accepted(admin):
    assert (await admin(CREATE, {"input": KYOTO}))["createInstitution"]["errors"] == []
    elsewhere = (await admin(CREATE, {"input": {**KYOTO, "country": "TH"}}))["createInstitution"]
    assert elsewhere["errors"] == []
    other = {**KYOTO, "differentBody": True}
    assert (await admin(CREATE, {"input": other}))["createInstitution"]["errors"] == []


async def test_two_ror_ids_tell_same_named_institutions_apart(admin):
    """A ROR id on each says they are different bodies; one without is still refused."""
    with_ror = {**KYOTO, "nameEn": "Tohoku University", "rorId": "01dq60k83"}
    assert (await admin(CREATE, {"input": with_ror}))["createInstitution"]["errors"] == []
    other_ror = {**with_ror, "rorId": "02kpeqv85"}
    assert (await admin(CREATE, {"input": other_ror}))["createInstitution"]["errors"] == []
    bare = {**KYOTO, "nameEn": "Tohoku University"}
    refused = (await admin(CREATE, {"input": bare}))["createInstitution"]
    assert codes(refused) == {("nameEn", "DUPLICATE_INSTITUTION")}


async def test_renaming_into_a_duplicate_is_refused_unless_different(admin):
    await admin(CREATE, {"input": KYOTO})
    other = (await admin(CREATE, {"input": {**KYOTO, "nameEn": "Kyoto Sangyo"}}))[
        "createInstitution"
    ]["institution"]
    rename = {"id": other["id"], "nameEn": "KYOTO university"}
    refused = (await admin(UPDATE, {"input": rename}))["updateInstitution"]
    assert codes(refused) == {("nameEn", "DUPLICATE_INSTITUTION")}
    kept = (await admin(UPDATE, {"input": {**rename, "differentBody": True}}))["updateInstitution"]
    assert kept["errors"] == [] and kept["institution"]["nameEn"] == "KYOTO university"
    own = (await admin(UPDATE, {"input": {"id": other["id"], "acronym": "KSU"}}))[
        "updateInstitution"
    ]
    assert own["errors"] == []  # its own name is no duplicate of itself
