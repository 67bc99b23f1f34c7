"""Which failures say "the database cannot be reached" (answered 503 DATABASE_UNAVAILABLE,
retried by the workers) and which do not: on real connections, refused by a closed port of
PostgreSQL and of Redis."""

from __future__ import annotations

import pytest
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from server.core.db import DatabaseUnavailable, database_unavailable, make_engine
from tests.fixtures.seaweed import free_ports


async def test_a_refused_postgres_connection_is_the_database_unavailable():
    (port,) = free_ports(1)  # nobody listens there
    engine = make_engine(f"postgresql+asyncpg://postgres@127.0.0.1:{port}/postgres")
    try:
        with pytest.raises(Exception) as caught:
            async with engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
    finally:
        await engine.dispose()
    assert database_unavailable(caught.value)
    wrapped = RuntimeError("a step after it failed")
    wrapped.__context__ = caught.value
    assert database_unavailable(wrapped)  # found along the chain
    assert database_unavailable(DatabaseUnavailable("answered from such errors"))


async def test_a_refused_redis_connection_and_a_constraint_are_not():
    (port,) = free_ports(1)
    redis = Redis(host="127.0.0.1", port=port)
    try:
        with pytest.raises(RedisConnectionError) as caught:
            await redis.ping()
    finally:
        await redis.aclose()
    assert not database_unavailable(caught.value)  # its ConnectionRefusedError is Redis's
    assert not database_unavailable(IntegrityError("INSERT", {}, Exception("duplicate key")))
    assert not database_unavailable(TimeoutError())
