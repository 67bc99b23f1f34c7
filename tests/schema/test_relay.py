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
    query = """query($id: ID!) { node(id: $id) { id } themes(rootsOnly: true) { code } }"""
    for bad, fragment in [
        (gid("UserError", 1), "UserError"),  # a type that is not a Node
        (gid("NoSuchType", 1), "NoSuchType"),
        ("%%%not-base64", "not a valid global id"),
        ("", "not a valid global id"),
    ]:
        response = await gql.post(query, {"id": bad})
        body = response.json()
        # the node is null with an error at its path; the sibling root field is answered
        assert body["data"]["node"] is None and body["data"]["themes"], body
        (error,) = body["errors"]
        assert fragment in error["message"]
        assert error["path"] == ["node"]
        assert error["extensions"] == {"code": "INVALID_ID", "field": "id"}


async def test_nodes_answers_every_good_id_and_an_error_at_each_bad_one(gql, factory):
    inst = await factory.institution(name_en="Hokkaido University")
    ids = ["", gid("Institution", inst.id), gid("NoSuchType", 1)]
    body = (await gql.post("query($ids: [ID!]!) { nodes(ids: $ids) { id } }", {"ids": ids})).json()
    assert body["data"]["nodes"] == [None, {"id": ids[1]}, None]
    assert [(e["path"], e["extensions"]) for e in body["errors"]] == [
        (["nodes", 0], {"code": "INVALID_ID", "field": "ids.0"}),
        (["nodes", 2], {"code": "INVALID_ID", "field": "ids.2"}),
    ]


ROOTS = """query($first: Int, $last: Int) {
  a: projects(first: $first, last: $last) { totalCount }
  b: themes(rootsOnly: true) { code }
  c: institutions(first: 1) { totalCount }
}"""


async def test_a_bad_argument_of_one_root_field_leaves_its_siblings_answered(gql, factory):
    await factory.institution(name_en="Hokkaido University")
    body = (await gql.post(ROOTS, {"first": 1, "last": 1})).json()
    assert body["data"]["a"] is None
    assert body["data"]["b"] and body["data"]["c"] == {"totalCount": 1}
    (error,) = body["errors"]
    assert error["path"] == ["a"] and error["extensions"]["code"] == "INVALID_PAGE_SIZE"


def test_root_fields_that_take_arguments_are_nullable():
    """An argument error nulls its own field only: a root field a client can get wrong is
    nullable (themes' flag cannot be wrong; nodes' items are nullable)."""
    import graphql

    from schema import build_schema

    query = build_schema()._schema.query_type
    always = {"themes", "nodes"}
    for name, field in query.fields.items():
        if field.args and name not in always:
            assert not graphql.is_non_null_type(field.type), name
