"""Expected failures as data (`errors { field code message }`), the rest masked.

Every mutation answers its expected failures in its payload's `errors`, a list of its
domain's error type (`ProjectError`, `DatasetError`, ...): each implements the `UserError`
interface and has a `code` of its domain's enum (`ProjectErrorCode`, ...), which lists the
codes every domain shares (server.core.errors.ErrorCode) and the domain's own
(server/<domain>/errors.py). The values are the codes' strings, as before the enums.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from enum import StrEnum
from typing import Any, TypeVar

import strawberry
from graphql import GraphQLError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from strawberry.extensions import MaskErrors
from strawberry.relay.types import GlobalIDValueError

from server.access import audit
from server.access.auth import Principal
from server.core.db import Base, DatabaseUnavailable, begin_write, database_unavailable
from server.core.errors import DomainError, ErrorCode, ErrorDetail

T = TypeVar("T")
log = logging.getLogger(__name__)


@strawberry.interface(
    description="An expected failure of a mutation: the input field it is about (null: the "
    "request as a whole) and why. Each domain's error type adds `code`, its enum of codes."
)
class UserError:
    field: str | None
    message: str


# the GraphQL error types by name, with the enums of codes they answer (README, tests)
ERROR_TYPES: dict[str, tuple[type[StrEnum], ...]] = {}


def codes_table() -> str:
    """The README's table of error codes, from the enums (`satreps error-codes`)."""
    from schema import build_schema
    from server.access.errors import AccessErrorCode
    from server.analytics.errors import AnalyticsErrorCode
    from server.backup.errors import BackupErrorCode
    from server.core.errors import QueryErrorCode
    from server.datasets.archives import LeftOutCode
    from server.datasets.downloads import DownloadCode
    from server.notifications.delivery_codes import DeliveryCode
    from server.search.errors import SearchErrorCode

    build_schema()  # every domain's error type registered

    def listed(*enums: type[StrEnum]) -> str:
        return ", ".join(f"`{code.value}`" for enum in enums for code in enum)

    rows = ["| where | codes |", "| --- | --- |", f"| every mutation | {listed(ErrorCode)} |"]
    for name, enums in sorted(ERROR_TYPES.items()):
        rows.append(f"| `{name}` (`{name}Code`) | {listed(*enums[1:])} |")
    tags = f"`{ErrorCode.INVALID_LANGUAGE_TAG}`, `{ErrorCode.UNKNOWN_LANGUAGE}` (a `LanguageTag`)"
    rows.append(
        f"| query errors (`extensions.code`) | {listed(QueryErrorCode)}, "
        f"{listed(AnalyticsErrorCode, SearchErrorCode)}, {tags} |"
    )
    rows.append(f"| `satreps token create` | {listed(AccessErrorCode)} |")
    rows.append(f"| `satreps backup`, `satreps restore` | {listed(BackupErrorCode)} |")
    rows.append(
        f"| download routes: a file's, an export's, an archive's URL; the landing pages"
        f" (`DownloadCode`) |"
        f" {listed(DownloadCode)} |"
    )
    rows.append(
        f"| `versionDownload`'s files left out (`LeftOutFile.code`: `LeftOutCode`) |"
        f" {listed(LeftOutCode)} |"
    )
    rows.append(
        f"| a webhook's or e-mail's delivery log (`DeliveryAttempt.code`: `DeliveryCode`) |"
        f" {listed(DeliveryCode)} |"
    )
    return "\n".join(rows) + "\n"


def error_codes(name: str, *domain: type[StrEnum]) -> type[StrEnum]:
    """A domain's enum of codes for the SDL: the shared codes, then the domain's own."""
    enums: tuple[type[StrEnum], ...] = (ErrorCode, *domain)
    members = {code.name: code.value for enum in enums for code in enum}
    codes = StrEnum(name, members)  # type: ignore[misc]  # built from the enums above
    ERROR_TYPES[name.removesuffix("Code")] = enums
    described: type[StrEnum] = strawberry.enum(
        codes, description=f"The codes of {name.removesuffix('Code')}: stable, safe to switch on."
    )
    return described


@contextmanager
def fields_named(**names: str) -> Iterator[None]:
    """A service's errors at this mutation's input names (`serviceName="inputName"`): a
    service shared by several mutations names its arguments once, a payload error names
    the input field the client sent."""
    try:
        yield
    except DomainError as error:
        error.details = [
            replace(d, field=names.get(d.field, d.field)) if d.field else d for d in error.details
        ]
        raise


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


class MaskUnexpected(MaskErrors):
    """strawberry's mask, keeping one fact of an error it hides: that the database could not
    be used for now (unreachable, or SQLite's write lock waited out). The endpoint answers
    such an error 503 with a code (server/http/app.py, process_result); its text stays
    hidden wherever the error goes (a subscription's, too)."""

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        masked = super().anonymise_error(error)
        original = error.original_error
        if original is not None and database_unavailable(original):
            masked.original_error = DatabaseUnavailable(self.error_message)
            masked.original_error.__cause__ = original
        return masked


def _target(result: Any) -> tuple[str | None, int | None]:
    # an upload ticket stands for its upload, a created webhook for its subscription
    row = getattr(result, "upload", None) or getattr(result, "subscription", result)
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
) -> T | list[ErrorDetail]:
    """The unit of work of one mutation field: commit on success, roll back otherwise.

    The token must hold `scope` (write: the research graph; upload: datasets and files).
    Every call is audited: a success in the same transaction as its work, a failure after
    the rollback."""
    ctx = info.context
    async with ctx.db() as session:
        principal = ctx.principal
        if principal.is_authenticated and not principal.has_scope(scope):
            detail = ErrorDetail(
                ErrorCode.INSUFFICIENT_SCOPE, f"this token lacks the {scope} scope"
            )
            await _record_failure(info, session, audit.DENIED, detail.code)
            return [detail]
        try:
            await begin_write(session)  # SQLite: the write lock waited for, not refused
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
            await _undo(ctx)
            code = error.details[0].code
            await _record_failure(info, session, audit.outcome_of(code), code)
            return error.details
        except IntegrityError:
            await session.rollback()
            _forget_pending(ctx)
            await _undo(ctx)
            await _record_failure(info, session, audit.REJECTED, "CONFLICT")
            return [ErrorDetail(ErrorCode.CONFLICT, "conflicts with existing data")]
        except Exception:
            await session.rollback()
            _forget_pending(ctx)
            await _undo(ctx)
            await _record_failure(info, session, audit.ERROR, "INTERNAL")
            raise
        except BaseException:  # cancelled (a timeout): roll back, undo in the background
            await session.rollback()
            _forget_pending(ctx)
            if ctx.on_rollback:
                task = asyncio.get_running_loop().create_task(_undo(ctx))
                _UNDOING.add(task)
                task.add_done_callback(_UNDOING.discard)
            raise
    ctx.on_rollback.clear()
    await ctx.flush_jobs()  # the rows exist now: a worker will find them
    return result


_UNDOING: set[asyncio.Task[None]] = set()  # undo tasks of cancelled mutations, kept alive


def _forget_pending(ctx: Any) -> None:
    ctx.after_commit.clear()
    ctx.events_after_commit.clear()


async def _undo(ctx: Any) -> None:
    """What the rolled-back work left outside the database, undone (best effort: logged)."""
    undo, ctx.on_rollback = ctx.on_rollback, []
    for step in undo:
        try:
            await step()
        except Exception:
            log.warning("could not undo a rolled-back mutation's effect", exc_info=True)


async def read(info: strawberry.Info, op: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """A read through the request's session; expected failures become public errors."""
    async with info.context.db() as session:
        try:
            return await op(session)
        except DomainError as error:
            raise PublicError(error) from error
