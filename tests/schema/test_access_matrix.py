"""The permission matrix: every kind of caller x every operation x every access level,
asserted through the HTTP API. The expectations are data (MATRIX below); the test derives
each operation's expected answer from the letter it needs:

    M  the dataset's metadata is visible (lists, counts, node/nodes, nested fields)
    D  its data may be read (profile, preview, download URL)
    W  it may be written (update, publish)
    U  files may be uploaded into it

Levels: public, project, institution, embargoed (until 2999), lifted (embargo date passed,
not yet lifted by the cron), proposal (a public dataset of a project not yet approved).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from tests.factories import gid
from tests.fixtures.access_world import (
    GRANT_STATES,
    LEVELS,
    ROLES,
    Sample,
    World,
    build_world,
    give_grant,
)

MATRIX = """
role                    public  project  institution  embargoed  lifted  proposal
anonymous               MD      -        -            -          MD      -
admin                   MDWU    MDWU     MDWU         MDWU       MDWU    MDWU
admin_without_scope     MD      -        -            -          MD      -
manager                 MD      M        M            M          MD      MD
manager_member          MDWU    MDWU     M            MDWU       MDWU    MDWU
researcher_member       MDWU    MDWU     -            MDWU       MDWU    MDWU
researcher_institution  MD      MD       MD           MD         MD      MD
researcher_outsider     MD      -        -            -          MD      -
uploader_owner          MDWU    MDWU     MDWU         MDWU       MDWU    MDWU
uploader_partner        MD      -        -            -          MD      MD
uploader_outsider       MD      -        -            -          MD      -
steward_owner           MD      MD       MD           MD         MD      MD
"""


def parse(table: str) -> dict[str, dict[str, str]]:
    lines = [line.split() for line in table.strip().splitlines()]
    header, rows = lines[0][1:], lines[1:]
    return {row[0]: dict(zip(header, row[1:], strict=True)) for row in rows}


EXPECTED = parse(MATRIX)


def test_the_matrix_covers_every_role_and_level():
    assert set(EXPECTED) == set(ROLES)
    assert all(set(levels) == set(LEVELS) for levels in EXPECTED.values())


# ---- operations: each answers "was it allowed?" for one sample --------------------------

Op = Callable[[Any, Sample, World], Awaitable[bool]]


async def _data(gql: Any, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    response = await gql.post(query, variables)
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body["errors"]
    return body["data"]


async def op_list(gql, s, w):
    data = await _data(gql, "{ datasets(first: 100) { nodes { id } } }", {})
    return gid("Dataset", s.dataset) in {n["id"] for n in data["datasets"]["nodes"]}


async def op_filtered_list(gql, s, w):
    query = "query($p: ID!) { datasets(filter: {projectId: $p}) { nodes { id } } }"
    data = await _data(gql, query, {"p": gid("Project", s.project)})
    return gid("Dataset", s.dataset) in {n["id"] for n in data["datasets"]["nodes"]}


async def op_node(gql, s, w):
    data = await _data(gql, "query($d: ID!) { node(id: $d) { id } }", {"d": s.gids()["dataset"]})
    return data["node"] is not None


async def op_nodes(gql, s, w):
    query = "query($d: [ID!]!) { nodes(ids: $d) { id } }"
    data = await _data(gql, query, {"d": [s.gids()["dataset"]]})
    return data["nodes"] == [{"id": s.gids()["dataset"]}]


async def op_nested_project(gql, s, w):
    query = "query($p: ID!) { node(id: $p) { ... on Project { datasets { id } } } }"
    node = (await _data(gql, query, {"p": s.gids()["project"]}))["node"]
    return node is not None and s.gids()["dataset"] in {d["id"] for d in node["datasets"]}


async def op_nested_from_institution(gql, s, w):
    """From a public institution, through its projects, to their datasets."""
    query = """query($i: ID!) { node(id: $i) { ... on Institution {
        projects { datasets { id versions { files { nodes { id } } } } } } } }"""
    node = (await _data(gql, query, {"i": gid("Institution", w.owner)}))["node"]
    found = {d["id"] for p in node["projects"] for d in p["datasets"]}
    return s.gids()["dataset"] in found


async def op_version_node(gql, s, w):
    data = await _data(gql, "query($v: ID!) { node(id: $v) { id } }", {"v": s.gids()["published"]})
    return data["node"] is not None


async def op_version_to_files(gql, s, w):
    query = "query($v: ID!) { node(id: $v) { ... on DatasetVersion { files { nodes { id } } } } }"
    node = (await _data(gql, query, {"v": s.gids()["published"]}))["node"]
    return node is not None and node["files"]["nodes"] == [{"id": s.gids()["file"]}]


async def op_file_node(gql, s, w):
    data = await _data(gql, "query($f: ID!) { node(id: $f) { id } }", {"f": s.gids()["file"]})
    return data["node"] is not None


async def op_upload(gql, s, w):
    query = "query($u: ID!) { upload(id: $u) { id } }"
    return (await _data(gql, query, {"u": s.gids()["upload"]}))["upload"] is not None


async def op_upload_node(gql, s, w):
    data = await _data(gql, "query($u: ID!) { node(id: $u) { id } }", {"u": s.gids()["upload"]})
    return data["node"] is not None


async def op_profile(gql, s, w):
    query = "query($f: ID!) { node(id: $f) { ... on DatasetFile { profile } } }"
    node = (await _data(gql, query, {"f": s.gids()["file"]}))["node"]
    return node is not None and node["profile"] == {"rows": 1}


async def op_download(gql, s, w):
    query = "query($f: ID!) { node(id: $f) { ... on DatasetFile { downloadUrl { url } } } }"
    response = await gql.post(query, {"f": s.gids()["file"]})
    body = response.json()
    if body.get("errors"):
        assert [e["extensions"]["code"] for e in body["errors"]] == ["FORBIDDEN"], body
        return False
    node = body["data"]["node"]
    return node is not None and "download=" in node["downloadUrl"]["url"]


DENIALS = {"FORBIDDEN", "NOT_FOUND", "UNAUTHENTICATED"}


async def _mutation_allowed(gql, query: str, variables: dict[str, Any], name: str) -> bool:
    data = await _data(gql, query, variables)
    codes = {e["code"] for e in data[name]["errors"]}
    assert codes <= DENIALS or not codes & DENIALS, codes
    return not codes & DENIALS


async def op_update(gql, s, w):
    query = """mutation($d: ID!) { updateDataset(input: {id: $d, title: "renamed"}) {
        errors { code } } }"""
    return await _mutation_allowed(gql, query, {"d": s.gids()["dataset"]}, "updateDataset")


async def op_publish(gql, s, w):
    # the draft holds an unfinished upload: an allowed caller hears UPLOADS_PENDING
    query = "mutation($v: ID!) { publishDatasetVersion(versionId: $v) { errors { code } } }"
    return await _mutation_allowed(gql, query, {"v": s.gids()["draft"]}, "publishDatasetVersion")


async def op_start_upload(gql, s, w):
    query = """mutation($v: ID!) { startUpload(datasetVersionId: $v, filename: "new.csv",
        byteSize: 10) { errors { code } } }"""
    return await _mutation_allowed(gql, query, {"v": s.gids()["draft"]}, "startUpload")


async def op_abort_upload(gql, s, w):
    query = "mutation($u: ID!) { abortUpload(uploadId: $u) { errors { code } } }"
    return await _mutation_allowed(gql, query, {"u": s.gids()["upload"]}, "abortUpload")


# letter needed -> operations; mutations last (they change the world)
OPERATIONS: list[tuple[str, str, Op]] = [
    ("M", "datasets list", op_list),
    ("M", "datasets filtered by project", op_filtered_list),
    ("M", "node(id)", op_node),
    ("M", "nodes(ids)", op_nodes),
    ("M", "Project.datasets", op_nested_project),
    ("M", "Institution.projects.datasets", op_nested_from_institution),
    ("M", "node(version)", op_version_node),
    ("M", "version.files", op_version_to_files),
    ("M", "node(file)", op_file_node),
    ("M", "upload(id)", op_upload),
    ("M", "node(upload)", op_upload_node),
    ("D", "file.profile", op_profile),
    ("D", "file.downloadUrl", op_download),
    ("W", "updateDataset", op_update),
    ("W", "publishDatasetVersion", op_publish),
    ("U", "startUpload", op_start_upload),
    ("U", "abortUpload", op_abort_upload),
]


@pytest.mark.parametrize("role", ROLES)
async def test_permission_matrix(role, gql, sessions):
    world = await build_world(sessions)
    client = gql.as_(world.tokens[role])
    wrong = []
    for letter, name, op in OPERATIONS:
        for level, sample in world.samples.items():
            expected = letter in EXPECTED[role][level]
            actual = await op(client, sample, world)
            if actual != expected:
                wrong.append(f"{name} on {level}: {'allowed' if actual else 'denied'}")
    assert not wrong, f"{role}: " + "; ".join(wrong)


# the levels an outsider is given a grant on in the grant cases (each in the given state)
GRANTED_LEVELS = ("project", "institution", "embargoed")


@pytest.mark.parametrize("state", GRANT_STATES)
async def test_grants_in_the_matrix(state, gql, sessions):
    """An outsider's grant on restricted datasets: a live one (ending today) opens metadata
    and data (M, D), never writing; expired, revoked or partly approved (one side of a dual
    approval) opens nothing. Lists, counts and aggregates agree."""
    world = await build_world(sessions)
    for level in GRANTED_LEVELS:
        await give_grant(
            sessions, world.samples[level].dataset, world.researchers["outsider"], state
        )
    client = gql.as_(world.tokens["researcher_outsider"])
    wrong = []
    for letter, name, op in OPERATIONS:
        for level, sample in world.samples.items():
            opened = state == "granted" and level in GRANTED_LEVELS and letter in "MD"
            expected = letter in EXPECTED["researcher_outsider"][level] or opened
            actual = await op(client, sample, world)
            if actual != expected:
                wrong.append(f"{name} on {level}: {'allowed' if actual else 'denied'}")
    assert not wrong, f"{state}: " + "; ".join(wrong)
    query = """query($p: ID!) { datasets(filter: {projectId: $p}) { totalCount }
        datasetStats(filter: {projectId: $p}) { total } }"""
    data = await _data(client, query, {"p": gid("Project", world.samples["public"].project)})
    seen = 2 + (len(GRANTED_LEVELS) if state == "granted" else 0)  # public, lifted
    assert data["datasets"]["totalCount"] == data["datasetStats"]["total"] == seen


@pytest.mark.parametrize("role", ROLES)
async def test_counts_and_aggregates_count_only_what_the_caller_may_see(role, gql, sessions):
    world = await build_world(sessions)
    client = gql.as_(world.tokens[role])
    visible = [lvl for lvl in LEVELS if "M" in EXPECTED[role][lvl]]
    by_project: dict[int, list[str]] = {}
    for level in visible:
        by_project.setdefault(world.samples[level].project, []).append(level)
    for project in {s.project for s in world.samples.values()}:
        query = """query($p: ID!) {
          datasets(filter: {projectId: $p}) { totalCount }
          datasetStats(filter: {projectId: $p}) { total byAccessLevel { accessLevel count } }
          embargoed: datasets(filter: {projectId: $p, accessLevel: EMBARGOED}) { totalCount }
        }"""
        data = await _data(client, query, {"p": gid("Project", project)})
        levels = by_project.get(project, [])
        assert data["datasets"]["totalCount"] == len(levels)
        assert data["datasetStats"]["total"] == len(levels)
        per_level = {c["accessLevel"]: c["count"] for c in data["datasetStats"]["byAccessLevel"]}
        expected_embargoed = sum(1 for lvl in levels if lvl in ("embargoed", "lifted"))
        assert per_level["EMBARGOED"] == expected_embargoed
        assert data["embargoed"]["totalCount"] == expected_embargoed


async def _reachable(admin, sample: Sample) -> dict[str, set[str]]:
    """Every id hanging off a dataset, as an admin sees them."""
    query = """query($d: ID!) { node(id: $d) { ... on Dataset {
        versions { id files { nodes { id } } uploads { id } } } } }"""
    node = (await _data(admin, query, {"d": sample.gids()["dataset"]}))["node"]
    versions = node["versions"]
    return {
        "Dataset": {sample.gids()["dataset"]},
        "DatasetVersion": {v["id"] for v in versions},
        "DatasetFile": {f["id"] for v in versions for f in v["files"]["nodes"]},
        "DatasetUpload": {u["id"] for v in versions for u in v["uploads"]},
    }


@pytest.mark.parametrize("role", ["anonymous", "researcher_outsider", "uploader_partner"])
async def test_guessed_ids_reveal_nothing_more(role, gql, sessions):
    """IDOR: every id around the world's, as Dataset, DatasetFile, DatasetVersion and
    DatasetUpload: exactly the allowed ones come back, the rest are null (no telling error)."""
    world = await build_world(sessions)
    client = gql.as_(world.tokens[role])
    admin = gql.as_(world.tokens["admin"])
    reachable = {lvl: await _reachable(admin, s) for lvl, s in world.samples.items()}
    allowed = [lvl for lvl in LEVELS if "M" in EXPECTED[role][lvl]]
    for type_name in ("Dataset", "DatasetVersion", "DatasetFile", "DatasetUpload"):
        every = set().union(*(r[type_name] for r in reachable.values()))
        ids = [int(__import__("base64").b64decode(g).decode().split(":")[1]) for g in every]
        guesses = [gid(type_name, i) for i in range(min(ids) - 3, max(ids) + 4)]
        data = await _data(
            client, "query($ids: [ID!]!) { nodes(ids: $ids) { id } }", {"ids": guesses}
        )
        found = {n["id"] for n in data["nodes"] if n is not None}
        assert found == set().union(*(reachable[lvl][type_name] for lvl in allowed)), type_name
        assert found < every  # something was hidden


async def test_an_embargo_passing_opens_the_dataset_and_the_cron_records_it(
    gql, sessions, make_token
):
    from server.datasets.embargo import lift_embargoes

    world = await build_world(sessions)
    outsider = gql.as_(world.tokens["researcher_outsider"])
    embargoed = world.samples["embargoed"]
    assert not await op_node(outsider, embargoed, world)
    assert await lift_embargoes(sessions) == [world.samples["lifted"].dataset]
    # the day comes
    import datetime as dt

    lifted = await lift_embargoes(sessions, today=dt.date(2999, 1, 1))
    assert lifted == [embargoed.dataset]
    assert await op_node(outsider, embargoed, world)
    assert await op_download(outsider, embargoed, world)
    assert await lift_embargoes(sessions, today=dt.date(2999, 1, 2)) == []  # once only
    admin = gql.as_(world.tokens["admin"])
    query = """query($id: ID!) { auditLog(filter: {action: "liftEmbargo", targetId: $id}) {
        nodes { actor targetType outcome detail } } }"""
    dataset_gid = gid("Dataset", embargoed.dataset)
    events = (await _data(admin, query, {"id": dataset_gid}))["auditLog"]["nodes"]
    assert events == [
        {
            "actor": "system",
            "targetType": "Dataset",
            "outcome": "OK",
            "detail": {"embargoUntil": "2999-01-01", "liftedOn": "2999-01-01"},
        }
    ]
    query = "query($d: ID!) { node(id: $d) { ... on Dataset { accessLevel embargoUntil } } }"
    node = (await _data(admin, query, {"d": embargoed.gids()["dataset"]}))["node"]
    assert node == {"accessLevel": "PUBLIC", "embargoUntil": None}


# ---- the public record: what leaves the server for everyone ------------------------------
# Per level, for anyone on the web: R the version is a public record (landing page, DCAT
# catalogue, OAI-PMH record, citation), F the public may fetch its files (the stable file
# URL, DCAT distributions). An embargo hides the files, not the description; restricted
# levels and proposals publish nothing. "lifted": the date has passed, the cron not yet run.
PUBLIC_RECORD = {
    "public": "RF",
    "project": "",
    "institution": "",
    "embargoed": "R",
    "lifted": "RF",
    "proposal": "",
}


async def _harvested(client: Any, version_id: int) -> bool:
    """Whether OAI-PMH's GetRecord gives the version's metadata (not idDoesNotExist)."""
    import xml.etree.ElementTree as ET

    params = {
        "verb": "GetRecord",
        "metadataPrefix": "oai_dc",
        "identifier": f"oai:testserver:version-{version_id}",
    }
    root = ET.fromstring((await client.get("/oai", params=params)).text)
    return root.find(".//{http://www.openarchives.org/OAI/2.0/}metadata") is not None


async def test_the_public_record_in_the_matrix(client, gql, sessions):
    from rdflib import Graph, URIRef
    from rdflib.namespace import DCAT, RDF

    world = await build_world(sessions)
    catalog = Graph().parse(data=(await client.get("/catalog.ttl")).text, format="turtle")
    citation = """query($v: ID!) { node(id: $v) { ... on DatasetVersion { citation } } }"""
    wrong = []
    for level, sample in world.samples.items():
        expected = PUBLIC_RECORD[level]
        page = f"/datasets/{sample.dataset}/versions/1"
        node = URIRef(f"http://testserver{page}")
        files = await client.get(f"{page}/files/{level}.csv")
        cited = await _data(gql, citation, {"v": gid("DatasetVersion", sample.published)})
        actual = {
            "landing page": (await client.get(page)).status_code == 200,
            "dataset page": (await client.get(f"/datasets/{sample.dataset}")).status_code == 200,
            "in the catalogue": (node, RDF.type, DCAT.Dataset) in catalog,
            "OAI-PMH record": await _harvested(client, sample.published),
            # the GraphQL citation also needs the version visible to the caller (M)
            "citation": bool((cited["node"] or {}).get("citation")),
        }
        wants = {
            "landing page": "R" in expected,
            "dataset page": "R" in expected,
            "in the catalogue": "R" in expected,
            "OAI-PMH record": "R" in expected,
            "citation": "R" in expected and "M" in EXPECTED["anonymous"][level],
        }
        for name, allowed in actual.items():
            if allowed != wants[name]:
                wrong.append(f"{name} on {level}: {'yes' if allowed else 'no'}")
        if ("F" in expected) != (files.status_code == 303):
            wrong.append(f"file URL on {level}: {files.status_code}")
        if "F" not in expected and files.status_code not in (403, 404):
            wrong.append(f"file URL on {level} refused with {files.status_code}")
        shared = set(catalog.objects(node, DCAT.distribution))
        if bool(shared) != ("F" in expected):
            wrong.append(f"distributions on {level}: {len(shared)}")
    assert not wrong, "; ".join(wrong)
