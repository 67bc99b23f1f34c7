"""Datasets and immutable versions through the HTTP API."""

from __future__ import annotations

import datetime as dt

from server.models import DatasetFile, Upload
from server.models.enums import AccountRole, InstitutionRole, MemberRole, ProjectPhase, UploadState
from tests.factories import gid

CREATE = """mutation($input: CreateDatasetInput!) {
  createDataset(input: $input) {
    dataset { id title licence accessLevel embargoUntil keywords themes { code }
              ownerInstitution { nameEn } project { title }
              versions { id number state } draft { id number } latestVersion { id } }
    errors { field code message } } }"""
UPDATE = """mutation($input: UpdateDatasetInput!) {
  updateDataset(input: $input) { dataset { title licence accessLevel embargoUntil keywords }
    errors { field code message } } }"""
PUBLISH = """mutation($v: ID!, $note: String) {
  publishDatasetVersion(versionId: $v, note: $note) {
    version { id number state publishedAt note files { nodes { name sha256 size } } }
    errors { field code message } } }"""
DRAFT = """mutation($d: ID!) {
  startDatasetDraft(datasetId: $d) { version { id number state files { nodes { id name } } }
    errors { field code message } } }"""
REMOVE = """mutation($f: ID!) {
  removeDatasetFile(fileId: $f) { version { files { nodes { name } } } errors { field code message } } }"""
LIST = """query($f: DatasetFilter) { datasets(filter: $f, first: 50) { totalCount nodes { title } } }"""


def codes(payload: dict) -> set[tuple[str | None, str]]:
    return {(e["field"], e["code"]) for e in payload["errors"]}


async def setup_project(factory, phase=ProjectPhase.IMPLEMENTATION):
    project = await factory.project(phase=phase, countries=("TH",))
    jp = await factory.institution("JP", name_en="Kyoto University")
    th = await factory.institution("TH", name_en="Chulalongkorn University")
    await factory.link(project.id, jp.id, InstitutionRole.JAPANESE_LEAD)
    await factory.link(project.id, th.id, InstitutionRole.PARTNER_LEAD)
    member = await factory.researcher()
    await factory.member(project.id, member.id, MemberRole.MEMBER)
    return project, jp, th, member


def dataset_input(project, institution, **extra):
    return {
        "projectId": gid("Project", project.id),
        "ownerInstitutionId": gid("Institution", institution.id),
        "title": "Chao Phraya river gauges 2023",
        "licence": "cc-by-4.0",
        **extra,
    }


async def add_file(sessions, version_id: int, name: str, content_sha: str = "a" * 64) -> int:
    """Stands in for the upload pipeline (issue 4) until it exists: a processed file row."""
    async with sessions() as session:
        upload = Upload(
            version_id=version_id,
            filename=name,
            object_key=f"raw/test/{version_id}/{name}",
            declared_size=10,
            state=UploadState.READY,
            attempts=1,
        )
        session.add(upload)
        await session.flush()
        row = DatasetFile(
            version_id=version_id,
            upload_id=upload.id,
            name=name,
            size=10,
            sha256=content_sha,
            raw_key=upload.object_key,
        )
        session.add(row)
        await session.commit()
        return row.id


async def test_create_dataset_opens_version_one_as_draft(gql, make_token, factory):
    project, jp, _, member = await setup_project(factory)
    client = gql.as_(await make_token(AccountRole.RESEARCHER, researcher_id=member.id))
    given = dataset_input(
        project, jp, keywords=["hydrology", "hydrology", "Thailand"], themeIds=[gid("Theme", 5)]
    )
    payload = (await client(CREATE, {"input": given}))["createDataset"]
    assert payload["errors"] == []
    ds = payload["dataset"]
    assert ds["licence"] == "CC-BY-4.0"
    assert ds["accessLevel"] == "PROJECT"
    assert ds["keywords"] == ["hydrology", "Thailand"]
    assert ds["themes"] == [{"code": "disaster-prevention"}]
    assert [(v["number"], v["state"]) for v in ds["versions"]] == [(1, "DRAFT")]
    assert ds["draft"]["number"] == 1 and ds["latestVersion"] is None


async def test_create_dataset_errors(gql, admin, make_token, factory):
    project, jp, _, _ = await setup_project(factory)
    stranger = await factory.institution("TH")
    cases = [
        ({"licence": "not-a-licence"}, {("licence", "INVALID_LICENCE")}),
        ({"title": ""}, {("title", "REQUIRED")}),
        ({"accessLevel": "EMBARGOED"}, {("embargoUntil", "REQUIRED")}),
        ({"embargoUntil": "2030-01-01"}, {("embargoUntil", "INVALID_EMBARGO")}),
        ({"themeIds": [gid("Theme", 999)]}, {("themeIds", "NOT_FOUND")}),
        (
            {"ownerInstitutionId": gid("Institution", stranger.id)},
            {("ownerInstitutionId", "NOT_PARTICIPATING")},
        ),
        ({"projectId": gid("Project", 999_999)}, {("projectId", "NOT_FOUND")}),
        ({"projectId": gid("Theme", 1)}, {("projectId", "INVALID_ID")}),
    ]
    for extra, expected in cases:
        payload = (await admin(CREATE, {"input": dataset_input(project, jp, **extra)}))[
            "createDataset"
        ]
        assert payload["dataset"] is None
        assert codes(payload) == expected, extra
    outsider = gql.as_(await make_token(AccountRole.RESEARCHER))
    assert codes(
        (await outsider(CREATE, {"input": dataset_input(project, jp)}))["createDataset"]
    ) == {(None, "FORBIDDEN")}
    assert codes((await gql(CREATE, {"input": dataset_input(project, jp)}))["createDataset"]) == {
        (None, "UNAUTHENTICATED")
    }
    assert (await admin(LIST))["datasets"]["totalCount"] == 0


async def test_institution_uploaders_write_for_their_own_institution(gql, make_token, factory):
    project, jp, th, _ = await setup_project(factory)
    uploader = gql.as_(await make_token(AccountRole.INSTITUTION_UPLOADER, institution_id=th.id))
    own = (await uploader(CREATE, {"input": dataset_input(project, th)}))["createDataset"]
    assert own["errors"] == []
    other = (await uploader(CREATE, {"input": dataset_input(project, jp)}))["createDataset"]
    assert codes(other) == {(None, "FORBIDDEN")}


async def test_publish_freezes_and_next_draft_carries_files(admin, factory, sessions):
    project, jp, _, _ = await setup_project(factory)
    ds = (await admin(CREATE, {"input": dataset_input(project, jp)}))["createDataset"]["dataset"]
    v1 = ds["draft"]["id"]
    empty = (await admin(PUBLISH, {"v": v1}))["publishDatasetVersion"]
    assert codes(empty) == {("versionId", "EMPTY_VERSION")}

    v1_id = int(__import__("base64").b64decode(v1).decode().split(":")[1])
    await add_file(sessions, v1_id, "gauges.csv")
    published = (await admin(PUBLISH, {"v": v1, "note": "first release"}))["publishDatasetVersion"]
    assert published["errors"] == []
    assert published["version"]["state"] == "PUBLISHED"
    assert published["version"]["note"] == "first release"
    assert published["version"]["publishedAt"] is not None
    again = (await admin(PUBLISH, {"v": v1}))["publishDatasetVersion"]
    assert codes(again) == {("versionId", "VERSION_PUBLISHED")}

    draft = (await admin(DRAFT, {"d": ds["id"]}))["startDatasetDraft"]
    assert draft["errors"] == []
    assert draft["version"]["number"] == 2
    assert [f["name"] for f in draft["version"]["files"]["nodes"]] == ["gauges.csv"]
    twice = (await admin(DRAFT, {"d": ds["id"]}))["startDatasetDraft"]
    assert codes(twice) == {("datasetId", "DRAFT_EXISTS")}

    # removing a file from the draft leaves the published version untouched
    removed = (await admin(REMOVE, {"f": draft["version"]["files"]["nodes"][0]["id"]}))[
        "removeDatasetFile"
    ]
    assert removed["errors"] == [] and removed["version"]["files"]["nodes"] == []
    v1_files = await admin(
        f'{{ node(id: "{v1}") {{ ... on DatasetVersion {{ files {{ nodes {{ name }} }} }} }} }}'
    )
    assert v1_files["node"]["files"]["nodes"] == [{"name": "gauges.csv"}]
    published_file = await admin(
        f'{{ node(id: "{v1}") {{ ... on DatasetVersion {{ files {{ nodes {{ id }} }} }} }} }}'
    )
    frozen = (await admin(REMOVE, {"f": published_file["node"]["files"]["nodes"][0]["id"]}))[
        "removeDatasetFile"
    ]
    assert codes(frozen) == {("fileId", "VERSION_PUBLISHED")}


async def test_publish_waits_for_open_uploads(admin, factory, sessions):
    project, jp, _, _ = await setup_project(factory)
    ds = (await admin(CREATE, {"input": dataset_input(project, jp)}))["createDataset"]["dataset"]
    version_id = int(__import__("base64").b64decode(ds["draft"]["id"]).decode().split(":")[1])
    await add_file(sessions, version_id, "done.csv")
    async with sessions() as session:
        session.add(
            Upload(
                version_id=version_id,
                filename="big.nc",
                object_key="raw/x/big.nc",
                declared_size=5,
                state=UploadState.PROCESSING,
                attempts=1,
            )
        )
        await session.commit()
    payload = (await admin(PUBLISH, {"v": ds["draft"]["id"]}))["publishDatasetVersion"]
    assert codes(payload) == {("versionId", "UPLOADS_PENDING")}


async def test_access_levels_decide_who_sees_a_dataset(gql, admin, make_token, factory):
    project, jp, th, member = await setup_project(factory)
    yesterday, next_year = (
        dt.date.today() - dt.timedelta(days=1),
        dt.date.today() + dt.timedelta(days=365),
    )
    for title, level, until, owner in [
        ("open", "PUBLIC", None, jp),
        ("members", "PROJECT", None, jp),
        ("thai-only", "INSTITUTION", None, th),
        ("embargo-over", "EMBARGOED", str(yesterday), jp),
        ("embargo-on", "EMBARGOED", str(next_year), jp),
    ]:
        given = dataset_input(project, owner, title=title, accessLevel=level, embargoUntil=until)
        if title == "embargo-over":  # as if set long ago: today only an admin's override
            given["overrideReason"] = "an embargo set before its date passed"
        assert (await admin(CREATE, {"input": given}))["createDataset"]["errors"] == []

    async def titles(client):
        return {n["title"] for n in (await client(LIST))["datasets"]["nodes"]}

    assert await titles(gql) == {"open", "embargo-over"}
    as_member = gql.as_(await make_token(AccountRole.RESEARCHER, researcher_id=member.id))
    assert await titles(as_member) == {"open", "embargo-over", "members", "embargo-on"}
    thai = gql.as_(await make_token(AccountRole.INSTITUTION_UPLOADER, institution_id=th.id))
    assert await titles(thai) == {"open", "embargo-over", "thai-only"}
    assert await titles(admin) == {"open", "members", "thai-only", "embargo-over", "embargo-on"}
    assert (await gql(LIST))["datasets"]["totalCount"] == 2
    nested = await gql(
        f'{{ node(id: "{gid("Project", project.id)}") {{ ... on Project {{ datasets {{ title }} }} }} }}'
    )
    assert {d["title"] for d in nested["node"]["datasets"]} == {"open", "embargo-over"}


async def test_update_dataset(admin, factory):
    project, jp, _, _ = await setup_project(factory)
    ds = (await admin(CREATE, {"input": dataset_input(project, jp)}))["createDataset"]["dataset"]
    changed = (
        await admin(
            UPDATE,
            {
                "input": {
                    "id": ds["id"],
                    "accessLevel": "EMBARGOED",
                    "embargoUntil": "2031-01-01",
                    "keywords": ["rain"],
                }
            },
        )
    )["updateDataset"]
    assert changed["errors"] == []
    assert changed["dataset"]["accessLevel"] == "EMBARGOED" and changed["dataset"]["keywords"] == [
        "rain"
    ]
    opened = (await admin(UPDATE, {"input": {"id": ds["id"], "accessLevel": "PUBLIC"}}))[
        "updateDataset"
    ]
    assert opened["dataset"]["embargoUntil"] is None
    bad = (await admin(UPDATE, {"input": {"id": ds["id"], "licence": "GPL-99"}}))["updateDataset"]
    assert codes(bad) == {("licence", "INVALID_LICENCE")}


async def test_dataset_lists_do_not_grow_statements(admin, factory, sessions, statements):
    project, jp, _, _ = await setup_project(factory)
    query = """{ datasets(first: 100) { nodes { title themes { code } ownerInstitution { nameEn }
        project { title } versions { number files { nodes { name } } uploads { state } } draft { id } } } }"""

    async def add(n):
        for i in range(n):
            ds = (
                await admin(
                    CREATE,
                    {
                        "input": dataset_input(
                            project, jp, title=f"d{i}", themeIds=[gid("Theme", 2)]
                        )
                    },
                )
            )["createDataset"]["dataset"]
            vid = int(__import__("base64").b64decode(ds["draft"]["id"]).decode().split(":")[1])
            await add_file(sessions, vid, f"f{i}.csv")

    await add(2)
    with statements.measure() as small:
        await admin(query)
    await add(8)
    with statements.measure() as large:
        data = await admin(query)
    assert len(data["datasets"]["nodes"]) == 10
    assert small.count == large.count


# --- dates the rules refuse (issue 18 item 13) ---------------------------------------------


async def test_an_embargo_that_has_ended_is_refused_unless_an_admin_overrides(
    admin, make_token, factory
):
    project, jp, _, member = await setup_project(factory)
    today = dt.date.today()
    researcher = admin.as_(await make_token(AccountRole.RESEARCHER, researcher_id=member.id))
    for until in (today - dt.timedelta(days=1), today):
        given = dataset_input(project, jp, accessLevel="EMBARGOED", embargoUntil=str(until))
        refused = (await researcher(CREATE, {"input": given}))["createDataset"]
        assert codes(refused) == {("embargoUntil", "EMBARGO_IN_PAST")}, until
        assert refused["dataset"] is None
        given["overrideReason"] = "the partner agreed to this date before upload"
        not_admin = (await researcher(CREATE, {"input": given}))["createDataset"]
        assert codes(not_admin) == {("overrideReason", "OVERRIDE_NOT_ALLOWED")}
    tomorrow = dataset_input(
        project, jp, accessLevel="EMBARGOED", embargoUntil=str(today + dt.timedelta(days=1))
    )
    created = (await researcher(CREATE, {"input": tomorrow}))["createDataset"]
    assert created["errors"] == []
    past = {"id": created["dataset"]["id"], "embargoUntil": str(today - dt.timedelta(days=3))}
    moved = (await researcher(UPDATE, {"input": past}))["updateDataset"]
    assert codes(moved) == {("embargoUntil", "EMBARGO_IN_PAST")}
    overridden = (await admin(UPDATE, {"input": {**past, "overrideReason": "agreed"}}))[
        "updateDataset"
    ]
    assert overridden["errors"] == []
    assert overridden["dataset"]["embargoUntil"] == past["embargoUntil"]
