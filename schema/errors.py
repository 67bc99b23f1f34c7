"""Expected failures as data (`errors { field code message }`), the rest masked."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import strawberry
from graphql import GraphQLError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from strawberry.relay.types import GlobalIDValueError

from server.access import audit
from server.access.auth import Principal
from server.core.db import Base
from server.core.errors import DomainError, ErrorDetail

T = TypeVar("T")
log = logging.getLogger(__name__)


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


def _target(result: Any) -> tuple[str | None, int | None]:
    row = getattr(result, "upload", result)  # an upload ticket stands for its upload
    if isinstance(row, Base):
        return type(row).__name__, getattr(row, "id", None)
    return None, None


def _arguments(info: strawberry.Info) -> dict[str, Any]:
    fields = info.selected_fields
    return {"arguments": getattr(fields[0], "arguments", {})} if fields else {}


async def _record_failure(
    info: strawberry.Info, session: AsyncSession, outcome: str, code: str
) -> None:
    """The attempt is recorded even though its work was rolled back."""
    ctx = info.context
    row = audit.event(
        ctx.principal,
        info.field_name,
        outcome=outcome,
        code=code,
        detail=_arguments(info),
        client=ctx.client,
    )
    try:
        session.add(row)
        await session.commit()
    except Exception:  # never hide the failure being reported behind one of our own
        await session.rollback()
        log.exception("audit record of %s failed", info.field_name)


async def mutate(
    info: strawberry.Info,
    op: Callable[[AsyncSession, Principal], Awaitable[T]],
    *,
    scope: str = "write",
) -> T | list[UserError]:
    """The unit of work of one mutation field: commit on success, roll back otherwise.

    The token must hold `scope` (write: the research graph; upload: datasets and files).
    Every call is audited: a success in the same transaction as its work, a failure after
    the rollback."""
    ctx = info.context
    async with ctx.db() as session:
        principal = ctx.principal
        if principal.is_authenticated and not principal.has_scope(scope):
            detail = ErrorDetail("INSUFFICIENT_SCOPE", f"this token lacks the {scope} scope")
            await _record_failure(info, session, audit.DENIED, detail.code)
            return user_errors(DomainError(detail))
        try:
            result = await op(session, principal)
            target_type, target_id = _target(result)
            session.add(
                audit.event(
                    principal,
                    info.field_name,
                    target_type=target_type,
                    target_id=target_id,
                    detail=_arguments(info),
                    client=ctx.client,
                )
            )
            await session.commit()
        except DomainError as error:
            await session.rollback()
            _forget_pending(ctx)
            code = error.details[0].code
            await _record_failure(info, session, audit.outcome_of(code), code)
            return user_errors(error)
        except IntegrityError:
            await session.rollback()
            _forget_pending(ctx)
            await _record_failure(info, session, audit.REJECTED, "CONFLICT")
            return [UserError(field=None, code="CONFLICT", message="conflicts with existing data")]
        except Exception:
            await session.rollback()
            _forget_pending(ctx)
            await _record_failure(info, session, audit.ERROR, "INTERNAL")
            raise
        except BaseException:  # cancelled (a timeout): roll back, nothing more
            await session.rollback()
            _forget_pending(ctx)
            raise
    await ctx.flush_jobs()  # the rows exist now: a worker will find them
    return result


def _forget_pending(ctx: Any) -> None:
    ctx.after_commit.clear()
    ctx.events_after_commit.clear()


async def read(info: strawberry.Info, op: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """A read through the request's session; expected failures become public errors."""
    async with info.context.db() as session:
        try:
            return await op(session)
        except DomainError as error:
            raise PublicError(error) from error
