"""`DatasetVersion.pid` and `Dataset.conceptPid` in GraphQL: local identifiers on the embedded
default, DOIs with their registration state once DataCite is configured, visible by the
version's and the dataset's rules (SQLite and PostgreSQL)."""

from __future__ import annotations

from typing import Any

import pytest
from strawberry.relay import to_base64

from server.core.config import get_settings
from server.datasets import service as datasets
from server.models.enums import AccessLevel, AccountRole
from server.publishing.registration import push_due
from server.storage import store_from_settings
from tests.fixtures.datacite import PREFIX
from tests.fixtures.provenance import dataset_draft, process, publish, send, team, worker_ctx

PID = "{ scheme value url state reason updatedAt }"
READ = f"""query($v: ID!, $d: ID!) {{
  version: node(id: $v) {{ ... on DatasetVersion {{ number pid {PID} }} }}
  dataset: node(id: $d) {{ ... on Dataset {{ conceptPid {PID}
    versions {{ number pid {{ value }} }} }} }} }}"""


@pytest.fixture
async def store(settings) -> Any:
    store = store_from_settings(settings)
    await store.ensure_buckets()
    yield store
    store.close()


async def published(sessions, store, settings, who, access=AccessLevel.PUBLIC):
    dataset_id, version_id = await dataset_draft(sessions, who, access=access)
    upload = await send(sessions, store, who, version_id, "levels.csv")
    assert await process(worker_ctx(sessions, store, settings), upload)
    await publish(sessions, who, version_id)
    return dataset_id, version_id


def ids(dataset_id, version_id):
    return {"v": to_base64("DatasetVersion", version_id), "d": to_base64("Dataset", dataset_id)}


async def test_local_identifiers_on_the_embedded_default(
    gql: Any, sessions: Any, settings: Any, factory: Any, store: Any
) -> None:
    get_settings.cache_clear()
    who = await team(sessions, factory)
    dataset_id, version_id = await published(sessions, store, settings, who)

    found = await gql(READ, ids(dataset_id, version_id))  # anonymous: a public dataset
    pid = found["version"]["pid"]
    assert {k: pid[k] for k in ("scheme", "value", "url", "state", "reason")} == {
        "scheme": "LOCAL",
        "value": f"satreps:{dataset_id}.v1",
        "url": f"/datasets/{dataset_id}/versions/1",
        "state": "FINDABLE",
        "reason": None,
    }
    concept = found["dataset"]["conceptPid"]
    assert (concept["value"], concept["url"]) == (
        f"satreps:{dataset_id}",
        f"/datasets/{dataset_id}",
    )
    assert found["dataset"]["versions"] == [{"number": 1, "pid": {"value": pid["value"]}}]


async def test_identifiers_follow_the_version_s_visibility(
    gql: Any, sessions: Any, settings: Any, factory: Any, store: Any, make_token: Any
) -> None:
    get_settings.cache_clear()
    who = await team(sessions, factory)
    dataset_id, version_id = await published(
        sessions, store, settings, who, access=AccessLevel.PROJECT
    )
    member = gql.as_(await make_token(AccountRole.RESEARCHER, researcher_id=who.researcher_id))
    anonymous = await gql(READ, ids(dataset_id, version_id))
    assert anonymous == {"version": None, "dataset": None}
    seen = await member(READ, ids(dataset_id, version_id))
    assert seen["version"] == {"number": 1, "pid": None}  # never public: no identifier
    assert seen["dataset"]["conceptPid"] is None

    async with sessions() as session:  # made public, then withdrawn again
        await datasets.update_dataset(
            session, who.principal, dataset_id, {"access_level": AccessLevel.PUBLIC}
        )
        await session.commit()
    assert (await gql(READ, ids(dataset_id, version_id)))["version"]["pid"]["state"] == "FINDABLE"
    async with sessions() as session:
        await datasets.update_dataset(
            session, who.principal, dataset_id, {"access_level": AccessLevel.PROJECT}
        )
        await session.commit()
    assert (await gql(READ, ids(dataset_id, version_id)))["version"] is None
    seen = await member(READ, ids(dataset_id, version_id))
    assert seen["version"]["pid"]["state"] == "REGISTERED"
    assert seen["dataset"]["conceptPid"]["state"] == "REGISTERED"


async def test_dois_show_their_registration_state(
    gql: Any, sessions: Any, factory: Any, store: Any, doi_settings: Any, datacite: Any
) -> None:
    who = await team(sessions, factory)
    dataset_id, version_id = await published(sessions, store, doi_settings, who)
    doi = f"{PREFIX}/satreps.{dataset_id}.v1"

    draft = (await gql(READ, ids(dataset_id, version_id)))["version"]["pid"]
    assert (draft["scheme"], draft["value"], draft["state"]) == ("DOI", doi, "DRAFT")
    assert draft["url"] == f"https://doi.org/{doi}"

    datacite.fail(422, "xml: Missing child element(s).")
    datacite.fail(500)
    await push_due(sessions, doi_settings)
    found = await gql(READ, ids(dataset_id, version_id))
    states = {found["version"]["pid"]["state"], found["dataset"]["conceptPid"]["state"]}
    assert states == {"FAILED", "DRAFT"}
    reasons = {found["version"]["pid"]["reason"], found["dataset"]["conceptPid"]["reason"]}
    assert reasons == {
        "DataCite refused (422): xml: Missing child element(s).",
        "DataCite answered 500: Internal Server Error",
    }
