from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection

from server.core.db import make_engine
from server.models import Base

target_metadata = Base.metadata


def _sqlite_foreign_keys(connection: Connection, on: bool) -> None:
    """SQLite's way to change a table (make it anew, copy, drop the old, rename) needs its
    foreign keys off, outside any transaction: else dropping the old table deletes its rows
    first and cascades to the rows that refer to them."""
    cursor = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        if on:
            cursor.execute("PRAGMA foreign_key_check")
            if broken := cursor.fetchall():
                raise RuntimeError(f"migration left broken foreign keys: {broken[:5]}")
        cursor.execute(f"PRAGMA foreign_keys={'ON' if on else 'OFF'}")
    finally:
        cursor.close()


def _run(connection: Connection) -> None:
    sqlite = connection.dialect.name == "sqlite"
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=sqlite,
        compare_type=True,
    )
    if sqlite:
        _sqlite_foreign_keys(connection, on=False)
    with context.begin_transaction():
        context.run_migrations()
    if sqlite:
        _sqlite_foreign_keys(connection, on=True)


async def _run_async() -> None:
    engine = make_engine(
        context.config.get_main_option("sqlalchemy.url") or "",
        pgbouncer=bool(context.config.attributes.get("pgbouncer")),
    )
    async with engine.connect() as connection:
        await connection.run_sync(_run)
    await engine.dispose()


def _in_new_loop() -> None:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        asyncio.run(_run_async())
        return
    # Called from inside a running loop (tests, `serve`): run in a worker thread.
    import threading

    errors: list[BaseException] = []

    def target() -> None:
        try:
            asyncio.run(_run_async())
        except BaseException as exc:  # re-raised in the caller's thread
            errors.append(exc)

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if errors:
        raise errors[0]


if context.is_offline_mode():
    raise SystemExit("offline migrations are not supported; run `satreps migrate`")
_in_new_loop()
