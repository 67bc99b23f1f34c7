"""OAI-PMH harvested by a real client (Sickle) from the app served by uvicorn: through every
page; while new records are published between pages (none missed, none repeated: they come
with the next harvest); with a tampered and an expired token; by set and date; a record
deleted when its dataset is made restricted; an embargo's lift giving a new datestamp. Every
page Sickle receives is validated against the OAI-PMH and oai_dc schemas. Sickle is
synchronous: it runs in a thread while the server answers in the test's event loop."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from pathlib import Path
from typing import Any

import pytest
from sickle import Sickle
from sickle.oaiexceptions import BadArgument, BadResumptionToken, IdDoesNotExist, NoRecordsMatch
from sqlalchemy import select

from server.core.url_signing import UrlSigner
from server.datasets import service as datasets
from server.datasets.embargo import lift_embargoes
from server.http.oai import repository
from server.models import DatasetVersion
from server.models.enums import AccessLevel, InstitutionRole
from server.publishing.oai import decode_token, encode_token
from server.storage import store_from_settings
from tests.fixtures.oai import bulk_published, validate
from tests.fixtures.provenance import dataset_draft, process, publish, send, team, worker_ctx

PAGE = 4


@pytest.fixture
def settings(settings):
    return settings.model_copy(update={"oai_page_size": PAGE})


@pytest.fixture
async def store(settings) -> Any:
    store = store_from_settings(settings)
    await store.ensure_buckets()
    yield store
    store.close()


class CheckedSickle(Sickle):  # type: ignore[misc]
    """Sickle that validates every response it receives before reading it."""

    pages = 0

    def harvest(self, **kwargs: Any) -> Any:
        response = super().harvest(**kwargs)
        validate(response.raw)
        self.pages += 1
        return response


def harvester(live_server: str, method: str = "GET") -> CheckedSickle:
    return CheckedSickle(f"http://{live_server}/oai", http_method=method, max_retries=0)


def version_of(identifier: str) -> int:
    return int(identifier.rsplit("-", 1)[1])


async def thread(fn: Any, *args: Any, **kwargs: Any) -> Any:
    return await asyncio.to_thread(fn, *args, **kwargs)


async def records(sessions, factory, count, **kwargs) -> list[int]:
    project = await factory.project(countries=("KH",))
    inst = await factory.institution("JP")
    await factory.link(project.id, inst.id, InstitutionRole.JAPANESE_LEAD)
    async with sessions() as session:
        ids = await bulk_published(
            session, project_id=project.id, institution_id=inst.id, count=count, **kwargs
        )
        await session.commit()
    return ids


async def test_a_harvest_through_every_page_by_get_and_post(live_server, sessions, factory):
    versions = await records(sessions, factory, 10)
    for method in ("GET", "POST"):
        sickle = harvester(live_server, method)
        harvested = await thread(lambda s=sickle: list(s.ListRecords(metadataPrefix="oai_dc")))
        assert [version_of(r.header.identifier) for r in harvested] == versions
        assert sickle.pages == 3
        assert harvested[0].metadata["title"] == ["Gauge readings 1"]
        assert harvested[0].metadata["type"] == ["Dataset"]
        assert "country:KH" in harvested[0].header.setSpecs
    sickle = harvester(live_server)
    headers = await thread(lambda: list(sickle.ListIdentifiers(metadataPrefix="oai_dc")))
    assert [version_of(h.identifier) for h in headers] == versions
    identify = await thread(sickle.Identify)
    assert identify.deletedRecord == "persistent" and identify.granularity.endswith("ssZ")
    formats = await thread(lambda: [f.metadataPrefix for f in sickle.ListMetadataFormats()])
    assert "oai_dc" in formats
    sets = await thread(lambda: [s.setSpec for s in sickle.ListSets()])
    assert "country:KH" in sets
    one = await thread(sickle.GetRecord, identifier=headers[0].identifier, metadataPrefix="oai_dc")
    assert one.metadata["title"] == ["Gauge readings 1"]


async def test_records_published_mid_harvest_come_with_the_next_one(live_server, sessions, factory):
    old = await records(sessions, factory, 9)
    sickle = harvester(live_server)
    pages = await thread(lambda: iter(sickle.ListIdentifiers(metadataPrefix="oai_dc")))
    first = [await thread(next, pages) for _ in range(PAGE)]
    began = sickle.pages
    # records published between pages: stamped now, after the harvest's first page
    stamp = dt.datetime.now(dt.UTC)
    new = await records(
        sessions, factory, 5, start=stamp, step=dt.timedelta(microseconds=1), title="Late"
    )
    rest = await thread(lambda: list(pages))
    harvested = [version_of(h.identifier) for h in first + rest]
    assert harvested == old  # none missed, none repeated, the late ones not in this harvest
    assert sickle.pages == began + 2

    since = stamp.strftime("%Y-%m-%dT%H:%M:%SZ")
    later = await thread(
        lambda: list(sickle.ListIdentifiers(metadataPrefix="oai_dc", **{"from": since}))
    )
    assert [version_of(h.identifier) for h in later] == new


async def test_tampered_expired_and_refused_requests(live_server, settings, sessions, factory):
    await records(sessions, factory, 6)
    sickle = harvester(live_server)
    response = await thread(sickle.harvest, verb="ListRecords", metadataPrefix="oai_dc")
    token = response.xml.find(".//{http://www.openarchives.org/OAI/2.0/}resumptionToken").text
    tampered = token[:5] + ("x" if token[5] != "x" else "y") + token[6:]
    with pytest.raises(BadResumptionToken):
        await thread(lambda: list(sickle.ListRecords(resumptionToken=tampered)))
    signer = UrlSigner.from_file(Path(settings.object_dir) / ".satreps" / "url-key")
    repo = repository(settings, sessions, signer)
    expired = encode_token(repo, decode_token(repo, token, "ListRecords"), int(time.time()) - 5)
    with pytest.raises(BadResumptionToken):
        await thread(lambda: list(sickle.ListRecords(resumptionToken=expired)))
    with pytest.raises(NoRecordsMatch):
        await thread(lambda: list(sickle.ListRecords(metadataPrefix="oai_dc", set="country:ZZ")))
    with pytest.raises(BadArgument):
        await thread(lambda: list(sickle.ListRecords(metadataPrefix="oai_dc", until="soon")))
    with pytest.raises(IdDoesNotExist):
        await thread(
            sickle.GetRecord, identifier="oai:127.0.0.1:version-0", metadataPrefix="oai_dc"
        )


async def test_sets_and_dates_in_a_harvest(live_server, sessions, factory):
    spring = dt.datetime(2025, 4, 1, tzinfo=dt.UTC)
    april = await records(sessions, factory, 6, start=spring, step=dt.timedelta(hours=1))
    june = await records(sessions, factory, 3, start=spring + dt.timedelta(days=61))
    sickle = harvester(live_server)

    async def harvest(**kwargs: str) -> list[int]:
        found = await thread(
            lambda: list(sickle.ListIdentifiers(metadataPrefix="oai_dc", **kwargs))
        )
        return [version_of(h.identifier) for h in found]

    assert await harvest(**{"from": "2025-04-01", "until": "2025-04-01"}) == april
    assert (
        await harvest(**{"from": "2025-04-01T02:00:00Z", "until": "2025-04-01T04:00:00Z"})
        == april[2:5]
    )
    assert await harvest(**{"from": "2025-05-01"}) == june
    async with sessions() as session:
        project_id = await session.scalar(
            select(datasets.Dataset.project_id)
            .join(DatasetVersion, DatasetVersion.dataset_id == datasets.Dataset.id)
            .where(DatasetVersion.id == june[0])
        )
    assert await harvest(set=f"project:{project_id}") == june


async def published(sessions, store, ctx, who, **values) -> int:
    dataset_id, version_id = await dataset_draft(sessions, who, **values)
    assert await process(ctx, await send(sessions, store, who, version_id, "levels.csv"))
    await publish(sessions, who, version_id)
    return version_id


async def test_restricted_then_deleted_and_a_lift_with_a_new_datestamp(
    live_server, sessions, factory, settings, store
):
    ctx = worker_ctx(sessions, store, settings)
    who = await team(sessions, factory)
    opened = await published(
        sessions, store, ctx, who, title="Tide gauges", access=AccessLevel.PUBLIC
    )
    future = dt.date.today() + dt.timedelta(days=20)
    async with sessions() as session:
        dataset = await datasets.create_dataset(
            session,
            who.principal,
            who.project_id,
            who.institution_id,
            {
                "title": "Soil cores",
                "licence": "CC-BY-4.0",
                "access_level": AccessLevel.EMBARGOED,
                "embargo_until": future,
            },
        )
        await session.commit()
        shut = await session.scalar(
            select(DatasetVersion.id).where(DatasetVersion.dataset_id == dataset.id)
        )
    assert await process(ctx, await send(sessions, store, who, shut, "cores.csv"))
    await publish(sessions, who, shut)
    sickle = harvester(live_server)
    name = f"oai:{live_server.split(':')[0]}:version-"

    before = await thread(sickle.GetRecord, identifier=f"{name}{shut}", metadataPrefix="oai_dc")
    assert "info:eu-repo/semantics/embargoedAccess" in before.metadata["rights"]
    await asyncio.sleep(1.1)  # datestamps are shown to the second
    restart = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    async with sessions() as session:
        v = await session.get(DatasetVersion, opened)
        await datasets.update_dataset(
            session, who.principal, v.dataset_id, {"access_level": AccessLevel.PROJECT}
        )
        await session.commit()
    assert await lift_embargoes(sessions, today=future)

    changed = await thread(
        lambda: list(sickle.ListRecords(metadataPrefix="oai_dc", **{"from": restart}))
    )
    by_id = {version_of(r.header.identifier): r for r in changed}
    assert set(by_id) == {opened, shut}
    assert by_id[opened].deleted and by_id[opened].header.deleted
    assert not by_id[shut].deleted and by_id[shut].header.datestamp > before.header.datestamp
    gone = await thread(sickle.GetRecord, identifier=f"{name}{opened}", metadataPrefix="oai_dc")
    assert gone.header.deleted
