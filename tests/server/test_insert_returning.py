"""server.core.db.insert_returning: new rows in one INSERT ... RETURNING on both databases
(a flush on SQLite inserts row by row), the persistent objects in the order given."""

from __future__ import annotations

import random

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.core.db import insert_returning
from server.models import Theme
from tests.conftest import StatementCounter


async def test_rows_come_back_in_the_order_given_from_one_statement(
    sessions: async_sessionmaker[AsyncSession], statements: StatementCounter
) -> None:
    codes = [f"bulk-{n:04d}" for n in range(300)]
    random.Random(7).shuffle(codes)
    made = [Theme(code=code, name=f"Theme {code}") for code in codes]
    async with sessions() as session:
        await session.execute(select(1))  # the session's savepoint begun: not counted below
        with statements.measure() as counter:
            rows = await insert_returning(session, made, Theme.code)
        assert counter.count == 1  # 300 rows, one statement (a flush on SQLite: 300)
        assert [row.code for row in rows] == codes
        assert len({row.id for row in rows}) == 300
        assert all(row in session and row.id is not None for row in rows)
        stored = dict(
            (await session.execute(select(Theme.code, Theme.id).where(Theme.code.in_(codes)))).all()
        )
        assert {row.code: row.id for row in rows} == stored
        assert await insert_returning(session, [], Theme.code) == []
        count = select(func.count()).select_from(Theme).where(Theme.code.in_(codes))
        assert await session.scalar(count) == 300
