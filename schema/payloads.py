"""A mutation's payload: the object it made or changed, or the errors that stopped it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from schema.context import Info
from schema.errors import UserError, mutate
from server.access.auth import Principal

R = TypeVar("R")
P = TypeVar("P")
P_co = TypeVar("P_co", covariant=True)


class Failed(Protocol[P_co]):
    """A payload type: built with `errors=` alone when the mutation fails."""

    def __call__(self, *, errors: list[UserError]) -> P_co: ...


async def payload(
    info: Info,
    op: Callable[[AsyncSession, Principal], Awaitable[R]],
    failed: Failed[P],
    done: Callable[[R], P],
) -> P:
    """Runs `op` as the mutation's unit of work (`mutate`) and answers with `done(row)`, or
    with `failed(errors=...)` when it was refused."""
    result = await mutate(info, op)
    if isinstance(result, list):
        return failed(errors=result)
    return done(result)
