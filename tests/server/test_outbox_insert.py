"""The outbox's rows of one flush go in as one INSERT on both databases (migration 0026's
insert sentinel), each ORM object given its own row's id."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.models import OutboxEvent
from server.notifications.events import emit
from tests.conftest import StatementCounter


async def test_a_flush_of_many_events_is_one_insert_and_each_object_gets_its_rows_id(
    sessions: async_sessionmaker[AsyncSession], statements: StatementCounter
) -> None:
    async with sessions() as session:
        await session.execute(select(1))  # the session's savepoint begun: not counted below
        for n in range(300):
            emit(session, "upload.ready", upload_id=10_000 + n, payload={"n": n})
        made = [obj for obj in session.new if isinstance(obj, OutboxEvent)]
        with statements.measure() as counter:
            await session.flush()
        assert counter.count == 1  # 300 rows: one statement (row by row before 0026: 300)
        stored = dict(
            (
                await session.execute(
                    select(OutboxEvent.__table__.c.id, OutboxEvent.__table__.c.upload_id).where(
                        OutboxEvent.__table__.c.upload_id >= 10_000
                    )
                )
            ).all()
        )
        assert len(stored) == 300
        assert {obj.id: obj.upload_id for obj in made} == stored
        assert all(obj.payload == {"n": obj.upload_id - 10_000} for obj in made)
