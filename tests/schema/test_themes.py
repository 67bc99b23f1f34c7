"""The theme tree and createTheme."""

from __future__ import annotations

from server.models.enums import AccountRole
from tests.factories import gid

CREATE = """mutation($input: CreateThemeInput!) {
  createTheme(input: $input) { theme { id code name sdgs parent { code } } errors { field code message } } }"""


def codes(payload: dict) -> set[tuple[str | None, str]]:
    return {(e["field"], e["code"]) for e in payload["errors"]}


async def test_satreps_fields_form_a_tree(gql):
    roots = (
        await gql("{ themes(rootsOnly: true) { code sdgs children { code parent { code } } } }")
    )["themes"]
    assert [r["code"] for r in roots] == [
        "environment-energy",
        "bioresources",
        "disaster-prevention",
        "infectious-diseases",
    ]
    env = roots[0]
    assert [c["code"] for c in env["children"]] == ["global-environment", "carbon-neutral-energy"]
    assert all(c["parent"]["code"] == "environment-energy" for c in env["children"])
    assert roots[3]["sdgs"] == [3]
    assert len((await gql("{ themes { id } }"))["themes"]) == 6


async def test_program_managers_add_themes(gql, make_token):
    manager = gql.as_(await make_token(AccountRole.PROGRAM_MANAGER))
    given = {"name": "Urban Flood Resilience", "parentId": gid("Theme", 5), "sdgs": [11, 13, 11]}
    payload = (await manager(CREATE, {"input": given}))["createTheme"]
    assert payload["errors"] == []
    assert payload["theme"]["code"] == "urban-flood-resilience"
    assert payload["theme"]["sdgs"] == [11, 13]
    assert payload["theme"]["parent"] == {"code": "disaster-prevention"}
    dup = (await manager(CREATE, {"input": given}))["createTheme"]
    assert codes(dup) == {("code", "DUPLICATE_CODE")}
    bad = (
        await manager(
            CREATE,
            {
                "input": {
                    "name": "X",
                    "code": "Bad Code!",
                    "sdgs": [0, 18],
                    "parentId": gid("Theme", 999),
                }
            },
        )
    )["createTheme"]
    assert codes(bad) == {
        ("code", "INVALID_CODE"),
        ("sdgs", "INVALID_SDG"),
        ("parentId", "NOT_FOUND"),
    }
    researcher = gql.as_(await make_token(AccountRole.RESEARCHER))
    assert codes((await researcher(CREATE, {"input": {"name": "Y"}}))["createTheme"]) == {
        (None, "FORBIDDEN")
    }
