"""Coverage through the API: a GeoJSON upload's coverage on its file, version and dataset;
uploaders' corrections (audited, in the provenance); the datasets' coverage filter with the
access rules, on both databases (the differential pass compares it with strawberry's)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from server.models import AuditEvent, ProvNode
from server.models.enums import AccountRole
from tests.factories import gid
from tests.schema.test_datasets import (
    CREATE,
    DRAFT,
    PUBLISH,
    REMOVE,
    dataset_input,
    setup_project,
)
from tests.schema.test_uploads import COMPLETE, upload_file

DATA = Path(__file__).parent.parent / "fixtures" / "data"
MEKONG = (DATA / "mekong_stations.geojson").read_bytes()
FIJI = (DATA / "fiji_towns.geojson").read_bytes()
COVERAGE = "coverage { bbox { west south east north } timeStart timeEnd bboxSource timeSource editedBy editedAt }"
VERSION = f"""query($v: ID!) {{ node(id: $v) {{ ... on DatasetVersion {{ {COVERAGE}
    files {{ nodes {{ id name {COVERAGE} }} }} dataset {{ {COVERAGE} }} }} }} }}"""
SET = f"""mutation($input: SetCoverageInput!) {{ setCoverage(input: $input) {{
    dataset {{ {COVERAGE} }} version {{ {COVERAGE} }} errors {{ field code }} }} }}"""
FILTERED = """query($f: DatasetFilter) { datasets(filter: $f, first: 50) {
    totalCount nodes { title coverage { bbox { west east } timeStart timeEnd } } } }"""

MEKONG_BOX = {"west": 100.09, "south": 10.03, "east": 106.02, "north": 20.27}


def box(coverage: dict) -> list[float] | None:
    found = coverage["bbox"]
    return None if found is None else [found[k] for k in ("west", "south", "east", "north")]


async def ready(admin, client, jobs, version: str, name: str, body: bytes) -> None:
    upload = await upload_file(admin, client, version, name, body)
    assert (await admin(COMPLETE, {"u": upload}))["completeUpload"]["errors"] == []
    await jobs.drain()


async def new_dataset(admin, project, owner, **extra) -> dict:
    created = await admin(CREATE, {"input": dataset_input(project, owner, **extra)})
    assert created["createDataset"]["errors"] == [], created
    return created["createDataset"]["dataset"]


async def test_geojson_upload_gives_file_version_and_dataset_coverage(admin, factory, client, jobs):
    project, jp, _, _ = await setup_project(factory)
    ds = await new_dataset(admin, project, jp)
    version = ds["draft"]["id"]
    await ready(admin, client, jobs, version, "stations.geojson", MEKONG)
    node = (await admin(VERSION, {"v": version}))["node"]
    (file,) = node["files"]["nodes"]
    mekong = [100.09, 10.03, 106.02, 20.27]
    assert box(file["coverage"]) == mekong and file["coverage"]["bboxSource"] == "DATA"
    assert file["coverage"]["timeStart"] is None and file["coverage"]["timeSource"] is None
    assert box(node["coverage"]) == mekong and box(node["dataset"]["coverage"]) == mekong
    assert node["coverage"]["bboxSource"] == "DATA" and node["coverage"]["editedBy"] is None

    # Fiji beside the Mekong: the union goes east across the antimeridian, not round the world
    await ready(admin, client, jobs, version, "fiji.geojson", FIJI)
    node = (await admin(VERSION, {"v": version}))["node"]
    across = [100.09, -18.23, -178.8, 20.27]
    assert box(node["coverage"]) == across and box(node["dataset"]["coverage"]) == across

    # the file taken out again: the version's coverage follows
    fiji = next(f["id"] for f in node["files"]["nodes"] if f["name"] == "fiji.geojson")
    assert (await admin(REMOVE, {"f": fiji}))["removeDatasetFile"]["errors"] == []
    node = (await admin(VERSION, {"v": version}))["node"]
    assert box(node["coverage"]) == mekong
    # a dataset's coverage is the union of all its versions: v1 is still there as a draft
    assert box(node["dataset"]["coverage"]) == mekong


async def test_uploaders_set_and_correct_coverage(
    gql, admin, factory, sessions, make_token, client, jobs
):
    project, jp, th, member = await setup_project(factory)
    ds = await new_dataset(admin, project, jp)
    version = ds["draft"]["id"]
    await ready(admin, client, jobs, version, "stations.geojson", MEKONG)
    as_member = gql.as_(await make_token(AccountRole.RESEARCHER, researcher_id=member.id))

    # a project member gives the period the GeoJSON cannot tell
    period = {"start": "2020-01-01T00:00:00+00:00", "end": "2024-12-31T00:00:00+00:00"}
    done = (await as_member(SET, {"input": {"id": ds["id"], "period": period}}))["setCoverage"]
    assert done["errors"] == []
    got = done["dataset"]["coverage"]
    assert got["timeStart"] == period["start"] and got["timeEnd"] == period["end"]
    assert got["timeSource"] == "PERSON" and got["bboxSource"] == "DATA"
    assert got["editedBy"] and got["editedAt"]
    # the draft version corrects its box; the dataset's union shows the person's part
    fixed = {"west": 99.0, "south": 8.5, "east": 107.0, "north": 22.0}
    done = (await as_member(SET, {"input": {"id": version, "bbox": fixed}}))["setCoverage"]
    assert done["errors"] == [] and done["version"]["coverage"]["bboxSource"] == "PERSON"
    node = (await admin(VERSION, {"v": version}))["node"]
    assert box(node["dataset"]["coverage"]) == [99.0, 8.5, 107.0, 22.0]
    assert node["dataset"]["coverage"]["bboxSource"] == "PERSON"
    assert box(node["files"]["nodes"][0]["coverage"]) == [100.09, 10.03, 106.02, 20.27]  # data kept
    # null gives the part back to the data
    done = (await as_member(SET, {"input": {"id": version, "bbox": None}}))["setCoverage"]
    assert done["errors"] == [] and box(done["version"]["coverage"]) == [
        100.09,
        10.03,
        106.02,
        20.27,
    ]
    assert done["version"]["coverage"]["bboxSource"] == "DATA"

    # the edits are audited and in the provenance
    async with sessions() as session:
        actions = (
            await session.scalars(
                select(AuditEvent.action).where(AuditEvent.action == "setCoverage")
            )
        ).all()
        edits = (
            await session.scalars(select(ProvNode).where(ProvNode.type == "coverage_edit"))
        ).all()
    assert len(actions) == 3 and len(edits) == 3  # so far
    assert {e.attributes["target"].split("-")[0] for e in edits} == {"dataset", "version"}
    assert {e.dataset_id for e in edits} == {edits[0].dataset_id}

    # bad input: stable codes, nothing written
    cases = [
        ({"bbox": {"west": 0, "south": 10, "east": 1, "north": 5}}, ("bbox", "INVALID_LATITUDE")),
        ({"bbox": {"west": 0, "south": -95, "east": 1, "north": 5}}, ("bbox", "INVALID_LATITUDE")),
        ({"bbox": {"west": 190, "south": 0, "east": 1, "north": 5}}, ("bbox", "INVALID_LONGITUDE")),
        (
            {"period": {"start": "2024-01-01T00:00:00Z", "end": "2020-01-01T00:00:00Z"}},
            ("period", "INVALID_PERIOD"),
        ),
        ({"period": {}}, ("period", "INVALID_PERIOD")),
        ({}, (None, "NOTHING_TO_UPDATE")),
    ]
    for given, expected in cases:
        payload = (await as_member(SET, {"input": {"id": ds["id"], **given}}))["setCoverage"]
        assert [(e["field"], e["code"]) for e in payload["errors"]] == [expected], given
    # who may not: anonymous (the dataset is the project's: not found), a program manager
    # who is no member; nor may a published version change
    outsider = gql.as_(await make_token(AccountRole.PROGRAM_MANAGER))  # sees, writes no data
    for client_, code in ((gql, "NOT_FOUND"), (outsider, "FORBIDDEN")):
        payload = await client_(SET, {"input": {"id": ds["id"], "period": period}})
        assert [e["code"] for e in payload["setCoverage"]["errors"]] == [code]
    # the version's own period, set before it is published, is carried to the next draft
    done = (await as_member(SET, {"input": {"id": version, "period": period}}))["setCoverage"]
    assert done["errors"] == []
    assert (await admin(PUBLISH, {"v": version}))["publishDatasetVersion"]["errors"] == []
    draft = (await admin(DRAFT, {"d": ds["id"]}))["startDatasetDraft"]["version"]["id"]
    carried = (await admin(VERSION, {"v": draft}))["node"]["coverage"]
    assert carried["timeSource"] == "PERSON" and carried["timeStart"] == period["start"]
    assert carried["bboxSource"] == "DATA" and box(carried) == [100.09, 10.03, 106.02, 20.27]
    payload = (await admin(SET, {"input": {"id": version, "period": period}}))["setCoverage"]
    assert [(e["field"], e["code"]) for e in payload["errors"]] == [("id", "VERSION_PUBLISHED")]
    payload = await admin(SET, {"input": {"id": gid("Project", project.id), "period": period}})
    assert [e["code"] for e in payload["setCoverage"]["errors"]] == ["INVALID_ID"]
