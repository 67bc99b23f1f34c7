"""Expected failures as data (`errors { field code message }`), the rest masked."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

import strawberry
from graphql import GraphQLError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from strawberry.relay.types import GlobalIDValueError

from server.auth import Principal
from server.errors import DomainError

T = TypeVar("T")


@strawberry.type
class UserError:
    field: str | None
    code: str
    message: str


def user_errors(error: DomainError) -> list[UserError]:
    return [UserError(field=d.field, code=d.code, message=d.message) for d in error.details]


class PublicError(GraphQLError):
    """An error a client caused in a query: shown as is, with a code."""

    def __init__(self, error: DomainError) -> None:
        first = error.details[0]
        super().__init__(
            str(error), extensions={"code": first.code, "field": first.field}, original_error=error
        )


def should_mask(error: GraphQLError) -> bool:
    """Mask what the client did not cause: anything but the errors it can act on."""
    original = error.original_error
    if original is None:  # syntax, validation and variable coercion errors
        return False
    return not isinstance(original, DomainError | GraphQLError | GlobalIDValueError)


async def mutate(
    info: strawberry.Info, op: Callable[[AsyncSession, Principal], Awaitable[T]]
) -> T | list[UserError]:
    """The unit of work of one mutation field: commit on success, roll back otherwise."""
    ctx = info.context
    async with ctx.db() as session:
        try:
            result = await op(session, ctx.principal)
            await session.commit()
        except DomainError as error:
            await session.rollback()
            ctx.after_commit.clear()
            ctx.events_after_commit.clear()
            return user_errors(error)
        except IntegrityError:
            await session.rollback()
            ctx.after_commit.clear()
            ctx.events_after_commit.clear()
            return [UserError(field=None, code="CONFLICT", message="conflicts with existing data")]
        except BaseException:
            await session.rollback()
            ctx.after_commit.clear()
            ctx.events_after_commit.clear()
            raise
    await ctx.flush_jobs()  # the rows exist now: a worker will find them
    return result


async def read(info: strawberry.Info, op: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """A read through the request's session; expected failures become public errors."""
    async with info.context.db() as session:
        try:
            return await op(session)
        except DomainError as error:
            raise PublicError(error) from error
