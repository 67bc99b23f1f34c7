"""The typed per-request context every resolver receives."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession
from strawberry.types import Info as _Info

from schema.loaders import Loaders
from server.auth import Principal
from server.config import Settings


@dataclass
class Context:
    session: AsyncSession
    principal: Principal
    settings: Settings
    loaders: Loaders = field(init=False)
    # graphql-core resolves sibling fields concurrently; one AsyncSession must not
    # run two statements at once, so every use of it takes this lock.
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def __post_init__(self) -> None:
        self.loaders = Loaders(self.db, self.principal)

    @asynccontextmanager
    async def db(self) -> AsyncIterator[AsyncSession]:
        async with self.lock:
            yield self.session


Info = _Info[Context, None]
