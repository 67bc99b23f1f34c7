"""The public record of published versions (server.publishing.record): which versions are
public records, what each holds (texts, creators with ORCID and affiliations, files with
whether the public may read them, the versions around it), read in batches."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import select

from server.datasets import service as datasets
from server.models import Affiliation
from server.models.enums import AccessLevel, MemberRole
from server.publishing.loading import load_record, load_records
from server.publishing.record import Text, pick, publishable_select
from server.storage import store_from_settings
from tests.fixtures.provenance import dataset_draft, process, publish, send, team, worker_ctx


@pytest.fixture
async def store(settings) -> Any:
    store = store_from_settings(settings)
    await store.ensure_buckets()
    yield store
    store.close()


async def published(sessions, store, ctx, who, *, title, access, name="levels.csv") -> int:
    dataset_id, version_id = await dataset_draft(sessions, who, title=title, access=access)
    assert await process(ctx, await send(sessions, store, who, version_id, name))
    await publish(sessions, who, version_id)
    return version_id


async def test_records_of_public_and_embargoed_versions_only(sessions, factory, settings, store):
    ctx = worker_ctx(sessions, store, settings)
    who = await team(sessions, factory, ror="00p4k0j84", orcid="0000-0002-1825-0097")
    async with sessions() as session:
        session.add(Affiliation(researcher_id=who.researcher_id, institution_id=who.institution_id))
        await session.commit()
    partner = await factory.researcher(name_en="Somchai Prasert")
    await factory.member(who.project_id, partner.id, MemberRole.PARTNER_PI)

    open_v1 = await published(
        sessions, store, ctx, who, title="River levels", access=AccessLevel.PUBLIC
    )
    async with sessions() as session:
        v1 = await session.get(datasets.DatasetVersion, open_v1)
        draft = await datasets.start_draft(session, who.principal, v1.dataset_id)
        await session.commit()
    assert await process(ctx, await send(sessions, store, who, draft.id, "more.csv"))
    await publish(sessions, who, draft.id)
    open_v2 = draft.id

    async with sessions() as session:
        dataset = await datasets.create_dataset(
            session,
            who.principal,
            who.project_id,
            who.institution_id,
            {
                "title": "Embargoed soil cores",
                "licence": "CC-BY-4.0",
                "access_level": AccessLevel.EMBARGOED,
                "embargo_until": dt.date.today() + dt.timedelta(days=30),
            },
        )
        await session.commit()
        embargoed = await session.scalar(
            select(datasets.DatasetVersion.id).where(
                datasets.DatasetVersion.dataset_id == dataset.id
            )
        )
    assert await process(ctx, await send(sessions, store, who, embargoed, "cores.csv"))
    await publish(sessions, who, embargoed)

    restricted = await published(
        sessions, store, ctx, who, title="Household survey", access=AccessLevel.PROJECT
    )
    _, unpublished = await dataset_draft(sessions, who, title="Draft only")

    async with sessions() as session:
        listed = set((await session.scalars(publishable_select())).all())
        records = await load_records(
            session, [open_v1, open_v2, embargoed, restricted, unpublished]
        )
        after_lift = await load_record(
            session, embargoed, today=dt.date.today() + dt.timedelta(days=31)
        )
    assert {open_v1, open_v2, embargoed} <= listed
    assert not {restricted, unpublished} & listed
    assert set(records) == {open_v1, open_v2, embargoed}

    first, second = records[open_v1], records[open_v2]
    assert first.title == "River levels" and first.number == 1 and second.number == 2
    assert first.previous_version_id is None and first.newer_version_ids == (open_v2,)
    assert second.previous_version_id == open_v1 and second.newer_version_ids == ()
    assert [c.orcid for c in first.creators] == ["0000-0002-1825-0097"]
    assert first.creators[0].orcid_url == "https://orcid.org/0000-0002-1825-0097"
    assert first.creators[0].role == MemberRole.JAPANESE_PI
    assert [a.ror_url for a in first.creators[0].affiliations] == ["https://ror.org/00p4k0j84"]
    assert [c.name for c in first.contributors] == ["Somchai Prasert"]
    assert first.publisher.id == who.institution_id
    assert first.licence_url == "https://spdx.org/licenses/CC-BY-4.0"
    assert first.project.countries == ("TH",)
    assert [k.value for k in first.keywords] == ["hydrology"]
    assert [f.path for f in first.files] == ["levels.csv"] and first.files[0].public
    assert sorted(f.path for f in second.files) == ["levels.csv", "more.csv"]
    assert first.published_at.tzinfo is not None

    shut = records[embargoed]
    assert [f.public for f in shut.files] == [False] and not shut.files_public
    assert after_lift is not None and after_lift.files_public


def test_pick_follows_the_asked_language_then_english_then_the_original():
    texts = (
        Text("ja", "河川水位", True),
        Text("en", "River levels", False),
        Text("th", "ระดับน้ำ", False),
    )
    assert pick(texts, "th").value == "ระดับน้ำ"
    assert pick(texts, "fr").value == "River levels"
    assert pick(texts[:1] + texts[2:], "fr").value == "河川水位"
    assert pick((), "en") is None


async def stamp(sessions, version_id):
    from server.models import PublicRecord

    async with sessions() as session:
        row = await session.get(PublicRecord, version_id)
        return None if row is None else (row.datestamp, row.deleted, row.files_public)


async def test_the_datestamp_moves_with_what_the_public_sees(sessions, factory, settings, store):
    from server.datasets.embargo import lift_embargoes

    ctx = worker_ctx(sessions, store, settings)
    who = await team(sessions, factory)
    version = await published(
        sessions, store, ctx, who, title="Tide gauges", access=AccessLevel.PUBLIC
    )
    first = await stamp(sessions, version)
    assert first is not None and first[1:] == (False, True)

    async def edit(values):
        async with sessions() as session:
            v = await session.get(datasets.DatasetVersion, version)
            await datasets.update_dataset(session, who.principal, v.dataset_id, values)
            await session.commit()

    await edit({"title": "Tide gauges of the Gulf of Thailand"})
    retitled = await stamp(sessions, version)
    assert retitled[0] > first[0] and retitled[1:] == (False, True)

    await edit({"access_level": AccessLevel.PROJECT})
    withdrawn = await stamp(sessions, version)
    assert withdrawn[0] > retitled[0] and withdrawn[1:] == (True, False)

    future = dt.date.today() + dt.timedelta(days=10)
    await edit({"access_level": AccessLevel.EMBARGOED, "embargo_until": future})
    shut = await stamp(sessions, version)
    assert shut[0] > withdrawn[0] and shut[1:] == (False, False)

    lifted = await lift_embargoes(sessions, today=future)
    opened = await stamp(sessions, version)
    assert lifted and opened[0] > shut[0] and opened[1:] == (False, True)

    restricted = await published(
        sessions, store, ctx, who, title="Interviews", access=AccessLevel.PROJECT
    )
    assert await stamp(sessions, restricted) is None  # never public: never a record
