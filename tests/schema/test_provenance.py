"""Provenance through GraphQL: lineage across two projects and three levels of derivation, in
both directions, with a restricted version in the middle shown redacted and never leaked;
registered derivations and their refusals; exports; fixity checks; phase transitions."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from server.models.enums import AccessLevel, AccountRole, ProjectPhase
from server.projects import service as projects
from server.provenance import ExportFormat
from server.provenance.documents import parse_prov
from server.provenance.lineage import register_derivation
from server.storage import store_from_settings
from tests.factories import gid
from tests.fixtures.provenance import dataset_draft, process, send, team, worker_ctx

SECRET_TITLE = "Restricted household survey"
SECRET_FILE = "secret-survey.csv"
NODE = "id kind redacted depth type label attributes objectId"
WALK = f"""query($id: ID!, $dir: LineageDirection!, $depth: Int) {{
  provenance(id: $id, direction: $dir, depth: $depth) {{
    rootId truncated nodes {{ {NODE} }} edges {{ relation subjectId objectId attributes }} }} }}"""
LINEAGE = """query($v: ID!, $dir: LineageDirection!) { node(id: $v) { ... on DatasetVersion {
  lineage(direction: $dir) { direction depth redacted version { id dataset { title } } } } } }"""
REGISTER = """mutation($input: RegisterDerivationInput!) { registerDerivation(input: $input) {
  version { id } errors { field code message } } }"""
EXPORT = """query($v: ID!, $f: ProvenanceFormat!) {
  provenanceExport(versionId: $v, format: $f) { format mediaType filename text } }"""
EXPORT_URL = """query($v: ID!) { provenanceExport(versionId: $v, format: PROV_JSON) { url } }"""
FIXITY = """mutation($v: ID!) { checkFixity(versionId: $v) { runId errors { field code } } }"""


@pytest.fixture
async def store(settings) -> Any:
    store = store_from_settings(settings)
    await store.ensure_buckets()
    yield store
    store.close()


async def chain(sessions, factory, settings, store) -> dict[str, Any]:
    """a (field data, project A) <- b (project B, members only) <- c (project A) <- d (project A)."""
    ctx = worker_ctx(sessions, store, settings)
    field = await team(sessions, factory, orcid="0000-0002-1825-0097")
    survey = await team(sessions, factory)
    versions: dict[str, int] = {}
    for name, who, title, access, filename in (
        ("a", field, "Field data", AccessLevel.PUBLIC, "levels.csv"),
        ("b", survey, SECRET_TITLE, AccessLevel.PROJECT, SECRET_FILE),
        ("c", field, "Analysis", AccessLevel.PUBLIC, "model.csv"),
        ("d", field, "Report figures", AccessLevel.PUBLIC, "figures.csv"),
    ):
        _, versions[name] = await dataset_draft(sessions, who, title=title, access=access)
        assert await process(ctx, await send(sessions, store, who, versions[name], filename))
    for derived, source, principal in (
        ("b", "a", survey.principal),  # project B's member sees project A's public data
        ("c", "b", factory.principal),  # a curator who sees both
        ("d", "c", field.principal),
    ):
        async with sessions() as session:
            await register_derivation(session, principal, versions[derived], [versions[source]])
            await session.commit()
    return {"versions": versions, "field": field, "survey": survey}


def version_nodes(walk: dict) -> dict[str, dict]:
    return {n["id"]: n for n in walk["nodes"] if n["redacted"] or n["type"] == "dataset_version"}


async def test_lineage_both_ways_with_a_restricted_version_in_the_middle(
    gql, make_token, sessions, factory, settings, store, admin
):
    made = await chain(sessions, factory, settings, store)
    v = {k: gid("DatasetVersion", pk) for k, pk in made["versions"].items()}
    viewer = gql.as_(
        await make_token(AccountRole.RESEARCHER, researcher_id=made["field"].researcher_id)
    )

    response = await viewer.post(WALK, {"id": v["d"], "dir": "UPSTREAM"})
    assert SECRET_TITLE not in response.text and SECRET_FILE not in response.text
    walk = response.json()["data"]["provenance"]
    labels = {n["label"]: n["depth"] for n in walk["nodes"] if n["type"] == "dataset_version"}
    assert labels == {"Report figures v1": 0, "Analysis v1": 1, "Field data v1": 3}
    hidden = [n for n in walk["nodes"] if n["redacted"]]
    assert hidden and all(
        (n["type"], n["label"], n["attributes"], n["objectId"]) == (None, None, None, None)
        for n in hidden
    )
    middle = next(n for n in hidden if n["depth"] == 2)  # version b, by its place
    ids = {n["id"] for n in walk["nodes"]}
    assert {
        (e["subjectId"], e["objectId"])
        for e in walk["edges"]
        if e["relation"] == "WAS_DERIVED_FROM"
    } >= {(middle["id"], next(n["id"] for n in walk["nodes"] if n["label"] == "Field data v1"))}
    assert all(e["subjectId"] in ids and e["objectId"] in ids for e in walk["edges"])

    down = (await viewer(WALK, {"id": v["a"], "dir": "DOWNSTREAM"}))["provenance"]
    labels = {n["label"]: n["depth"] for n in down["nodes"] if n["type"] == "dataset_version"}
    assert labels == {"Field data v1": 0, "Analysis v1": 2, "Report figures v1": 3}
    assert any(n["redacted"] and n["depth"] == 1 for n in down["nodes"])

    shallow = (await viewer(WALK, {"id": v["d"], "dir": "UPSTREAM", "depth": 2}))["provenance"]
    assert "Field data v1" not in {n["label"] for n in shallow["nodes"]}

    both = (await viewer(LINEAGE, {"v": v["c"], "dir": "BOTH"}))["node"]["lineage"]
    assert [(x["direction"], x["depth"], x["redacted"]) for x in both] == [
        ("UPSTREAM", 1, True),
        ("UPSTREAM", 2, False),
        ("DOWNSTREAM", 1, False),
    ]
    assert both[0]["version"] is None
    assert [x["version"]["dataset"]["title"] for x in both[1:]] == ["Field data", "Report figures"]

    # a member of project B, and a curator, see the whole chain
    for who in (
        admin,
        gql.as_(
            await make_token(AccountRole.RESEARCHER, researcher_id=made["survey"].researcher_id)
        ),
    ):
        full = (await who(WALK, {"id": v["d"], "dir": "UPSTREAM"}))["provenance"]
        assert not [n for n in full["nodes"] if n["redacted"]]
        assert SECRET_TITLE + " v1" in {n["label"] for n in full["nodes"]}

    # the restricted version itself is not found, for anyone who may not see it
    errors = await viewer.errors(WALK, {"id": v["b"], "dir": "BOTH"})
    assert errors[0]["extensions"]["code"] == "NOT_FOUND"
    anonymous = await gql.errors(WALK, {"id": v["b"], "dir": "UPSTREAM"})
    assert anonymous[0]["extensions"]["code"] == "NOT_FOUND"

    # exports for the viewer carry the restricted nodes by kind only
    text = (await viewer(EXPORT, {"v": v["d"], "f": "PROV_N"}))["provenanceExport"]["text"]
    assert SECRET_TITLE not in text and SECRET_FILE not in text and "redacted-" in text
    parse_prov(text, ExportFormat.PROV_N)


async def test_bad_walks_and_derivations_are_refused_with_codes(
    gql, make_token, sessions, factory, settings, store, admin
):
    made = await chain(sessions, factory, settings, store)
    v = {k: gid("DatasetVersion", pk) for k, pk in made["versions"].items()}
    viewer = gql.as_(
        await make_token(AccountRole.RESEARCHER, researcher_id=made["field"].researcher_id)
    )
    for variables, code in (
        ({"id": v["a"], "dir": "UPSTREAM", "depth": 0}, "INVALID_DEPTH"),
        ({"id": v["a"], "dir": "UPSTREAM", "depth": 51}, "INVALID_DEPTH"),
        ({"id": gid("Theme", 1), "dir": "UPSTREAM"}, "INVALID_ID"),
        ({"id": gid("DatasetVersion", 10**6), "dir": "UPSTREAM"}, "NOT_FOUND"),
        ({"id": gid("ProvNode", 10**6), "dir": "UPSTREAM"}, "NOT_FOUND"),
    ):
        errors = await viewer.errors(WALK, variables)
        assert errors[0]["extensions"]["code"] == code, (variables, errors)

    async def register(client, version: str, sources: list[str]) -> set[tuple[str, str]]:
        payload = await client(
            REGISTER, {"input": {"versionId": version, "sourceVersionIds": sources}}
        )
        return {(e["field"], e["code"]) for e in payload["registerDerivation"]["errors"]}

    assert await register(viewer, v["d"], [v["d"]]) == {("sourceVersionIds", "SELF_DERIVATION")}
    assert await register(viewer, v["d"], []) == {("sourceVersionIds", "REQUIRED")}
    assert await register(viewer, v["d"], [v["b"]]) == {("sourceVersionIds", "NOT_FOUND")}
    assert await register(viewer, v["b"], [v["a"]]) == {("versionId", "NOT_FOUND")}
    assert await register(admin, v["a"], [v["d"]]) == {("sourceVersionIds", "DERIVATION_CYCLE")}
    assert await register(viewer, v["d"], [gid("Dataset", 1)]) == {
        ("sourceVersionIds", "INVALID_ID")
    }
    outsider = gql.as_(
        await make_token(AccountRole.RESEARCHER, researcher_id=(await factory.researcher()).id)
    )
    assert await register(outsider, v["d"], [v["a"]]) == {(None, "FORBIDDEN")}
    # registering again changes nothing; a new source adds one edge
    assert await register(viewer, v["d"], [v["c"], v["a"]]) == set()
    walk = (await admin(WALK, {"id": v["d"], "dir": "UPSTREAM", "depth": 1}))["provenance"]
    derived = [
        e
        for e in walk["edges"]
        if e["relation"] == "WAS_DERIVED_FROM" and e["subjectId"] == walk["rootId"]
    ]
    assert len(derived) == 3  # c, a and the file of d itself
    assert any(e["attributes"] and "registeredBy" in e["attributes"] for e in derived)

    errors = await viewer.errors(EXPORT, {"v": gid("Dataset", 1), "f": "PROV_JSON"})
    assert errors[0]["extensions"]["code"] == "INVALID_ID"


async def test_uploads_publication_fixity_and_phase_changes_through_the_api(
    admin, client, jobs, factory, sessions, settings, store
):
    from tests.schema.test_uploads import COMPLETE, PUBLISH, draft_version, upload_file

    version = await draft_version(admin, factory)
    upload = await upload_file(admin, client, version, "levels.csv", b"a,b\n1,2\n")
    assert (await admin(COMPLETE, {"u": upload}))["completeUpload"]["errors"] == []
    await jobs.drain()
    assert (await admin(PUBLISH, {"v": version}))["publishDatasetVersion"]["errors"] == []
    run = (await admin(FIXITY, {"v": version}))["checkFixity"]
    assert run["errors"] == [] and run["runId"]
    await jobs.drain()

    around = (await admin(WALK, {"id": upload, "dir": "BOTH", "depth": 1}))["provenance"]
    by_type: dict[str, list[dict]] = {}
    for node in around["nodes"]:
        by_type.setdefault(node["type"], []).append(node)
    assert by_type["upload"][0]["attributes"]["client"].startswith("python-httpx/")
    assert [n["attributes"]["outcome"] for n in by_type["ingest"]] == ["ready"]
    assert [n["attributes"]["outcome"] for n in by_type["fixity_check"]] == ["ok"]
    assert len(by_type["publish"]) == 1 and len(by_type["artifact"]) == 3

    # the copies beside the data show the publication
    dataset_id = await admin(
        f'{{ node(id: "{version}") {{ ... on DatasetVersion {{ dataset {{ id }} }} }} }}'
    )
    from strawberry.relay import from_base64

    ds = int(from_base64(dataset_id["node"]["dataset"]["id"])[1])
    document = await store.get_bytes(store.buckets.provenance, f"datasets/{ds}/v1/prov.json")
    prov = parse_prov(document.decode(), ExportFormat.PROV_JSON)
    assert any("publish-" in str(r.identifier) for r in prov.get_records() if r.identifier)
    crate = json.loads(
        await store.get_bytes(store.buckets.provenance, f"datasets/{ds}/v1/ro-crate-metadata.json")
    )
    assert any(e.get("@id") == "prov.json" for e in crate["@graph"])

    # a phase change of a project with data is an activity that used its datasets
    project = int(
        from_base64(
            (
                await admin(
                    f'{{ node(id: "{gid("Dataset", ds)}") {{ ... on Dataset {{ project {{ id }} }} }} }}'
                )
            )["node"]["project"]["id"]
        )[1]
    )
    async with sessions() as session:
        await projects.transition_phase(session, factory.principal, project, ProjectPhase.COMPLETED)
        await session.commit()
    changed = (await admin(WALK, {"id": gid("Dataset", ds), "dir": "DOWNSTREAM", "depth": 1}))[
        "provenance"
    ]
    phases = [n for n in changed["nodes"] if n["type"] == "phase_transition"]
    assert [p["attributes"]["toPhase"] for p in phases] == ["completed"]
    for fmt in ("PROV_JSON", "PROV_JSONLD", "PROV_TURTLE", "PROV_N", "RO_CRATE"):
        out = (await admin(EXPORT, {"v": version, "f": fmt}))["provenanceExport"]
        assert out["text"] and out["filename"] and out["mediaType"]


async def test_export_urls_are_signed_and_served_by_the_embedded_server(
    gql, make_token, sessions, factory, settings, store
):
    made = await chain(sessions, factory, settings, store)
    version = gid("DatasetVersion", made["versions"]["d"])
    viewer = gql.as_(
        await make_token(AccountRole.RESEARCHER, researcher_id=made["field"].researcher_id)
    )
    for fmt in ("PROV_JSON", "PROV_TURTLE", "RO_CRATE"):
        query = """query($v: ID!, $f: ProvenanceFormat!) {
          provenanceExport(versionId: $v, format: $f) { text url mediaType filename } }"""
        export = (await viewer(query, {"v": version, "f": fmt}))["provenanceExport"]
        url = httpx.URL(export["url"])
        # absolute, under the address the client used
        assert (url.scheme, url.host, url.path.split("/")[1]) == ("http", "testserver", "exports")
        fetched = await gql.http.get(export["url"])  # no token: the URL is the capability
        assert fetched.status_code == 200, fetched.text
        assert fetched.text == export["text"]
        assert fetched.headers["content-type"].startswith(export["mediaType"])
        assert export["filename"] in fetched.headers["content-disposition"]
    signature = url.params["signature"]
    tampered = url.copy_set_param("expires", str(int(url.params["expires"]) + 1))
    assert (await gql.http.get(str(tampered))).status_code == 403
    elsewhere = url.copy_with(path=url.path.replace("/exports/", "/exports/x"))
    assert (await gql.http.get(str(elsewhere))).status_code == 403
    assert (await gql.http.get(str(url.copy_remove_param("signature")))).status_code == 400
    assert signature
