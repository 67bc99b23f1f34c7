"""Global ids, node(id:), nodes(ids:) and keyset pagination in both directions."""

from __future__ import annotations

import base64

from tests.factories import gid

PAGE = """query($first: Int, $after: String, $last: Int, $before: String) {
  institutions(first: $first, after: $after, last: $last, before: $before) {
    totalCount
    edges { cursor node { id nameEn } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
}"""


async def make_institutions(factory, n: int) -> list[str]:
    return [
        gid("Institution", (await factory.institution(name_en=f"Inst {i:02d}")).id)
        for i in range(n)
    ]


async def test_forward_pagination_visits_every_item_once(gql, factory):
    ids = await make_institutions(factory, 7)
    seen, after, pages = [], None, 0
    while True:
        conn = (await gql(PAGE, {"first": 3, "after": after}))["institutions"]
        assert conn["totalCount"] == 7
        seen += [e["node"]["id"] for e in conn["edges"]]
        pages += 1
        assert conn["pageInfo"]["hasPreviousPage"] is (after is not None)
        if not conn["pageInfo"]["hasNextPage"]:
            break
        after = conn["pageInfo"]["endCursor"]
    assert seen == ids
    assert pages == 3


async def test_backward_pagination_visits_every_item_once(gql, factory):
    ids = await make_institutions(factory, 7)
    seen, before = [], None
    while True:
        conn = (await gql(PAGE, {"last": 3, "before": before}))["institutions"]
        seen = [e["node"]["id"] for e in conn["edges"]] + seen
        if not conn["pageInfo"]["hasPreviousPage"]:
            break
        before = conn["pageInfo"]["startCursor"]
    assert seen == ids


async def test_cursors_are_keysets_that_survive_inserts(gql, factory):
    await make_institutions(factory, 3)
    first = (await gql(PAGE, {"first": 2}))["institutions"]
    # a row added after the first page was read does not shift the next page
    await factory.institution(name_en="Late arrival")
    rest = (await gql(PAGE, {"first": 10, "after": first["pageInfo"]["endCursor"]}))["institutions"]
    assert [e["node"]["nameEn"] for e in rest["edges"]] == ["Inst 02", "Late arrival"]


async def test_page_size_limits_and_bad_cursors(gql):
    cases = [
        ({"first": 101}, "INVALID_PAGE_SIZE"),
        ({"first": -1}, "INVALID_PAGE_SIZE"),
        ({"last": 500}, "INVALID_PAGE_SIZE"),
        ({"first": 1, "last": 1}, "INVALID_PAGE_SIZE"),
        ({"after": "not-a-cursor"}, "INVALID_CURSOR"),
        ({"before": base64.b64encode(b"k1:abc").decode()}, "INVALID_CURSOR"),
    ]
    for variables, code in cases:
        errors = await gql.errors(PAGE, variables)
        assert errors[0]["extensions"]["code"] == code, variables
    empty = (await gql(PAGE, {"first": 0}))["institutions"]
    assert empty["edges"] == [] and empty["pageInfo"]["endCursor"] is None


async def test_node_and_nodes(gql, factory):
    inst = await factory.institution(name_en="Hokkaido University")
    researcher = await factory.researcher(name_en="Tanaka Ichiro")
    query = """query($id: ID!) { node(id: $id) { __typename id
        ... on Institution { nameEn } ... on Researcher { nameEn } ... on Theme { code } } }"""
    node = (await gql(query, {"id": gid("Institution", inst.id)}))["node"]
    assert node == {
        "__typename": "Institution",
        "id": gid("Institution", inst.id),
        "nameEn": "Hokkaido University",
    }
    theme = (await gql(query, {"id": gid("Theme", 6)}))["node"]
    assert theme["code"] == "infectious-diseases"
    # a well-formed id of a node type whose row does not exist: null, no error
    assert (await gql(query, {"id": gid("Researcher", 999_999)}))["node"] is None
    assert (await gql(query, {"id": gid("Researcher", "abc")}))["node"] is None

    ids = [
        gid("Researcher", researcher.id),
        gid("Institution", 999_999),
        gid("Institution", inst.id),
    ]
    nodes = (await gql("query($ids: [ID!]!) { nodes(ids: $ids) { id } }", {"ids": ids}))["nodes"]
    assert nodes == [{"id": ids[0]}, None, {"id": ids[2]}]


async def test_node_with_a_wrong_type_or_malformed_id_is_a_clear_error(gql):
    query = "query($id: ID!) { node(id: $id) { id } }"
    for bad, fragment in [
        (gid("UserError", 1), "UserError"),  # a type that is not a Node
        (gid("NoSuchType", 1), "NoSuchType"),
        ("%%%not-base64", "GlobalID"),
    ]:
        errors = await gql.errors(query, {"id": bad})
        assert fragment in errors[0]["message"]
        assert errors[0]["message"] != "Unexpected error."
