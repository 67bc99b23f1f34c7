"""Persistent identifiers (server.publishing.pids, .registration): rows written in the
publish transaction (an outbox), pushed to a local DataCite (a real HTTP server that checks
every payload against DataCite's schemas) by the registration job; faults (DataCite down,
5xx, 4xx, a duplicate DOI), bad input (a title too long, control characters), updates (a
retitle, an embargo's end, a dataset made restricted) and the local scheme without
DataCite. Both databases."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import select, update

from server.core.config import get_settings
from server.core.db import utcnow
from server.datasets import service as datasets
from server.datasets.embargo import lift_embargoes
from server.models import Dataset, DatasetVersion, LanguageText, PersistentId
from server.models.enums import AccessLevel, VersionState
from server.publishing.citations import render
from server.publishing.datacite import TITLE_MAX
from server.publishing.loading import load_record, load_records
from server.publishing.metadata import datacite_documents, documents_of
from server.publishing.registration import (
    backoff,
    claim,
    client,
    finish,
    push_due,
    push_one,
)
from server.publishing.service import refresh
from server.storage import store_from_settings
from tests.fixtures.datacite import BASE, PREFIX, closed_port, problems
from tests.fixtures.provenance import dataset_draft, process, publish, send, team, worker_ctx


@pytest.fixture
async def store(settings) -> Any:
    store = store_from_settings(settings)
    await store.ensure_buckets()
    yield store
    store.close()


async def published(sessions, store, settings, who, *, title="River levels", access=None):
    ctx = worker_ctx(sessions, store, settings)
    dataset_id, version_id = await dataset_draft(
        sessions, who, title=title, access=access or AccessLevel.PUBLIC
    )
    assert await process(ctx, await send(sessions, store, who, version_id, "levels.csv"))
    await publish(sessions, who, version_id)
    return dataset_id, version_id


async def pids(sessions, dataset_id) -> dict[int | None, PersistentId]:
    async with sessions() as session:
        rows = await session.scalars(
            select(PersistentId).where(PersistentId.dataset_id == dataset_id)
        )
        return {r.version_id: r for r in rows}


def vdoi(dataset_id, number=1):
    return f"{PREFIX}/satreps.{dataset_id}.v{number}"


def cdoi(dataset_id):
    return f"{PREFIX}/satreps.{dataset_id}"


async def test_publish_writes_the_outbox_and_the_job_makes_the_dois_findable(
    sessions, factory, store, doi_settings, datacite
):
    who = await team(sessions, factory, orcid="0000-0002-1825-0097")
    dataset_id, version_id = await published(sessions, store, doi_settings, who)

    rows = await pids(sessions, dataset_id)  # written in the publish transaction
    assert {v: (r.scheme, r.value, r.state, r.needs_push) for v, r in rows.items()} == {
        version_id: ("doi", vdoi(dataset_id), "draft", True),
        None: ("doi", cdoi(dataset_id), "draft", True),
    }
    assert datacite.received == []  # publishing never called DataCite

    assert await push_due(sessions, doi_settings) == 2
    assert datacite.invalid == []
    assert [(r.method, r.status) for r in datacite.received] == [("POST", 201), ("POST", 201)]
    assert datacite.state(vdoi(dataset_id)) == "findable"
    assert datacite.state(cdoi(dataset_id)) == "findable"
    sent = datacite.attributes(vdoi(dataset_id))
    assert sent["url"] == f"{BASE}/datasets/{dataset_id}/versions/1"
    assert sent["titles"][0]["title"] == "River levels"
    assert {
        "relatedIdentifier": cdoi(dataset_id),
        "relatedIdentifierType": "DOI",
        "relationType": "IsVersionOf",
    } in sent["relatedIdentifiers"]
    concept = datacite.attributes(cdoi(dataset_id))
    assert concept["url"] == f"{BASE}/datasets/{dataset_id}"
    assert concept["relatedIdentifiers"][0]["relatedIdentifier"] == vdoi(dataset_id)
    rows = await pids(sessions, dataset_id)
    assert all(r.state == "findable" and r.remote and not r.needs_push for r in rows.values())
    assert await push_due(sessions, doi_settings) == 0  # nothing left to push
    async with sessions() as session:  # every format reads the findable DOIs from the record
        record = await load_record(session, version_id)
    assert record is not None
    assert (record.doi, record.concept_doi) == (vdoi(dataset_id), cdoi(dataset_id))
    assert f"https://doi.org/{vdoi(dataset_id)}" in render(record, "https://example.org/landing")


async def test_datacite_down_publishes_anyway_and_retries_with_backoff(
    sessions, factory, store, doi_settings, datacite
):
    who = await team(sessions, factory)
    dataset_id, version_id = await published(sessions, store, doi_settings, who)
    down = doi_settings.model_copy(update={"datacite_url": closed_port()})
    now = utcnow()

    assert await push_due(sessions, down, now=now) == 2
    async with sessions() as session:
        version = await session.get(DatasetVersion, version_id)
        assert version.state == VersionState.PUBLISHED  # nothing published half-way
    row = (await pids(sessions, dataset_id))[version_id]
    assert row.state == "draft" and row.needs_push and row.attempts == 1
    assert row.reason.startswith("DataCite unreachable")
    assert abs((row.next_attempt_at - now) - backoff(1)) < dt.timedelta(seconds=1)

    assert await push_due(sessions, doi_settings, now=now + dt.timedelta(seconds=5)) == 0
    later = now + backoff(1) + dt.timedelta(seconds=1)
    assert await push_due(sessions, down, now=later) == 2
    row = (await pids(sessions, dataset_id))[version_id]
    assert row.attempts == 2 and row.next_attempt_at - later > backoff(1)

    assert await push_due(sessions, doi_settings, now=later + backoff(2)) == 2
    row = (await pids(sessions, dataset_id))[version_id]
    assert (row.state, row.reason, row.attempts, row.needs_push) == ("findable", None, 0, False)
    assert datacite.state(vdoi(dataset_id)) == "findable"


async def test_a_500_is_retried_and_a_4xx_fails_with_datacites_reason(
    sessions, factory, store, doi_settings, datacite
):
    who = await team(sessions, factory)
    dataset_id, version_id = await published(sessions, store, doi_settings, who)
    now = utcnow()
    datacite.fail(500, "Internal Server Error")
    datacite.fail(403, "You are not authorized to access this resource.")
    await push_due(sessions, doi_settings, now=now)

    rows = await pids(sessions, dataset_id)
    retried, refused = sorted(rows.values(), key=lambda r: r.id)
    assert retried.state == "draft" and retried.needs_push and retried.attempts == 1
    assert retried.reason == "DataCite answered 500: Internal Server Error"
    assert refused.state == "failed" and not refused.needs_push
    assert refused.reason == (
        "DataCite refused (403): You are not authorized to access this resource."
    )

    assert await push_due(sessions, doi_settings, now=now + backoff(1)) == 1
    rows = await pids(sessions, dataset_id)
    assert rows[retried.version_id].state == "findable"
    assert rows[refused.version_id].state == "failed"  # stays until the record changes

    async with sessions() as session:
        await datasets.update_dataset(session, who.principal, dataset_id, {"title": "Levels"})
        await session.commit()
    await push_due(sessions, doi_settings, now=now + backoff(1))
    rows = await pids(sessions, dataset_id)
    assert {r.state for r in rows.values()} == {"findable"}
    assert datacite.invalid == []


async def test_a_duplicate_doi_from_a_lost_answer_is_taken_over(
    sessions, factory, store, doi_settings, datacite
):
    who = await team(sessions, factory)
    dataset_id, version_id = await published(sessions, store, doi_settings, who)
    await push_due(sessions, doi_settings)
    async with sessions() as session:  # as if the answers to those POSTs were lost
        await session.execute(update(PersistentId).values(remote=False, needs_push=True))
        await session.commit()

    await push_due(sessions, doi_settings)
    methods = [(r.method, r.status) for r in datacite.received[2:]]
    assert methods.count(("POST", 422)) == 2 and methods.count(("PUT", 200)) == 2
    row = (await pids(sessions, dataset_id))[version_id]
    assert row.state == "findable" and row.remote
    assert row.reason == "DataCite: this DOI has already been taken"


async def test_a_title_too_long_and_control_characters_are_mended_and_said(
    sessions, factory, store, doi_settings, datacite
):
    who = await team(sessions, factory)
    dataset_id, version_id = await published(sessions, store, doi_settings, who)
    long = "Daily water levels of the lower Mekong " * 20
    async with sessions() as session:  # written around the services' checks
        await session.execute(
            update(LanguageText)
            .where(LanguageText.dataset_id == dataset_id, LanguageText.field == "title")
            .values(value=long)
        )
        await session.execute(
            update(Dataset)
            .where(Dataset.id == dataset_id)
            .values(description="Gauges\x07 read\x1b daily.")  # (PostgreSQL refuses a NUL)
        )
        await refresh(session, [dataset_id], changed=True)
        await session.commit()

    await push_due(sessions, doi_settings)
    assert datacite.invalid == []
    sent = datacite.attributes(vdoi(dataset_id))
    assert len(sent["titles"][0]["title"]) <= TITLE_MAX
    assert sent["titles"][0]["title"].endswith("…")
    assert "\x07" not in str(sent) and "\x1b" not in str(sent)
    row = (await pids(sessions, dataset_id))[version_id]
    assert row.state == "findable"
    assert f"cut to {TITLE_MAX} characters" in row.reason
    assert "characters XML cannot carry removed" in row.reason


async def test_a_retitle_an_embargo_lift_and_a_restriction_are_pushed(
    sessions, factory, store, doi_settings, datacite
):
    who = await team(sessions, factory)
    dataset_id, version_id = await published(sessions, store, doi_settings, who)
    await push_due(sessions, doi_settings)

    async def edit(values):
        async with sessions() as session:
            await datasets.update_dataset(session, who.principal, dataset_id, values)
            await session.commit()

    await edit({"title": "Mekong gauges"})
    assert (await pids(sessions, dataset_id))[version_id].needs_push
    await push_due(sessions, doi_settings)
    assert datacite.attributes(vdoi(dataset_id))["titles"][0]["title"] == "Mekong gauges"
    assert datacite.received[-1].method == "PUT"

    future = dt.date.today() + dt.timedelta(days=10)
    await edit({"access_level": AccessLevel.EMBARGOED, "embargo_until": future})
    await push_due(sessions, doi_settings)
    dates = datacite.attributes(vdoi(dataset_id))["dates"]
    assert {"date": future.isoformat(), "dateType": "Available"} in dates
    pushed = len(datacite.received)
    assert await lift_embargoes(sessions, today=future)
    assert await push_due(sessions, doi_settings) == 2  # the lift is pushed again
    assert len(datacite.received) == pushed + 2

    await edit({"access_level": AccessLevel.PROJECT})
    await push_due(sessions, doi_settings)
    assert [r.attributes for r in datacite.received[-2:]] == [{"event": "hide"}] * 2
    assert datacite.state(vdoi(dataset_id)) == "registered"
    assert datacite.state(cdoi(dataset_id)) == "registered"
    rows = await pids(sessions, dataset_id)
    assert {r.state for r in rows.values()} == {"registered"}
    assert datacite.invalid == []


async def test_a_second_version_links_the_versions(
    sessions, factory, store, doi_settings, datacite
):
    who = await team(sessions, factory)
    dataset_id, first = await published(sessions, store, doi_settings, who)
    await push_due(sessions, doi_settings)
    async with sessions() as session:
        draft = await datasets.start_draft(session, who.principal, dataset_id)
        await session.commit()
    ctx = worker_ctx(sessions, store, doi_settings)
    assert await process(ctx, await send(sessions, store, who, draft.id, "more.csv"))
    await publish(sessions, who, draft.id)
    await push_due(sessions, doi_settings)
    links = {
        r["relationType"]: r["relatedIdentifier"]
        for r in datacite.attributes(vdoi(dataset_id, 2))["relatedIdentifiers"]
    }
    assert links == {"IsVersionOf": cdoi(dataset_id), "IsNewVersionOf": vdoi(dataset_id)}
    earlier = datacite.attributes(vdoi(dataset_id))["relatedIdentifiers"]
    assert earlier[-1]["relationType"] == "IsPreviousVersionOf"
    concept = datacite.attributes(cdoi(dataset_id))
    assert "version" not in concept
    assert [r["relatedIdentifier"] for r in concept["relatedIdentifiers"]] == [
        vdoi(dataset_id),
        vdoi(dataset_id, 2),
    ]
    assert datacite.invalid == []


async def test_without_datacite_identifiers_are_local_and_need_no_network(
    sessions, factory, store, settings
):
    get_settings.cache_clear()
    who = await team(sessions, factory)
    dataset_id, version_id = await published(sessions, store, settings, who)
    rows = await pids(sessions, dataset_id)
    assert {v: (r.scheme, r.value, r.state, r.needs_push) for v, r in rows.items()} == {
        version_id: ("local", f"satreps:{dataset_id}.v1", "findable", False),
        None: ("local", f"satreps:{dataset_id}", "findable", False),
    }
    assert await push_due(sessions, settings) == 0

    async with sessions() as session:
        await datasets.update_dataset(
            session, who.principal, dataset_id, {"access_level": AccessLevel.PROJECT}
        )
        await session.commit()
    assert {r.state for r in (await pids(sessions, dataset_id)).values()} == {"registered"}


async def test_a_change_during_a_push_keeps_the_identifier_marked(
    sessions, factory, store, doi_settings, datacite
):
    who = await team(sessions, factory)
    dataset_id, version_id = await published(sessions, store, doi_settings, who)
    now = utcnow()
    claims = await claim(sessions, now)
    assert await claim(sessions, now) == []  # claimed: another worker skips them
    async with sessions() as session:
        documents = await documents_of(session, doi_settings, claims)
        await datasets.update_dataset(session, who.principal, dataset_id, {"title": "Newer"})
        await session.commit()
    async with client(doi_settings) as http:
        for item in claims:
            await finish(sessions, item, await push_one(http, item, documents[item.id]), now)
    row = (await pids(sessions, dataset_id))[version_id]
    assert row.state == "findable" and row.needs_push  # the retitle is still to push
    await push_due(sessions, doi_settings, now=now)
    assert datacite.attributes(vdoi(dataset_id))["titles"][0]["title"] == "Newer"
    assert not (await pids(sessions, dataset_id))[version_id].needs_push


async def test_datacite_documents_for_other_formats(sessions, factory, store, doi_settings):
    who = await team(sessions, factory)
    dataset_id, version_id = await published(sessions, store, doi_settings, who)
    async with sessions() as session:
        records = await load_records(session, [version_id])
        found = await datacite_documents(session, doi_settings, records)
    attributes = found[version_id].attributes
    assert attributes["doi"] == vdoi(dataset_id)
    assert attributes["relatedIdentifiers"][0]["relatedIdentifier"] == cdoi(dataset_id)
    assert problems(attributes) == []


async def test_datacite_documents_of_local_identifiers(sessions, factory, store, settings):
    get_settings.cache_clear()
    who = await team(sessions, factory)
    dataset_id, version_id = await published(sessions, store, settings, who)
    async with sessions() as session:
        records = await load_records(session, [version_id])
        found = await datacite_documents(session, settings, records)
    attributes = found[version_id].attributes
    assert "doi" not in attributes and attributes["url"] == f"/datasets/{dataset_id}/versions/1"
    assert attributes["alternateIdentifiers"][0]["alternateIdentifier"] == (
        f"satreps:{dataset_id}.v1"
    )
