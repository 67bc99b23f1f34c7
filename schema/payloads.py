"""A mutation's payload: the object it made or changed, or the errors that stopped it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import cache
from typing import Any, Protocol, TypeVar, cast

from sqlalchemy.ext.asyncio import AsyncSession
from strawberry.types.base import StrawberryList, get_object_definition

from schema.context import Info
from schema.errors import UserError, mutate
from server.access.auth import Principal
from server.core.errors import ErrorDetail

R = TypeVar("R")
P = TypeVar("P")
P_co = TypeVar("P_co", covariant=True)


class Failed(Protocol[P_co]):
    """A payload type: built with `errors=` alone when the mutation fails."""

    def __call__(self, *, errors: list[Any]) -> P_co: ...


async def payload(
    info: Info,
    op: Callable[[AsyncSession, Principal], Awaitable[R]],
    failed: Failed[P],
    done: Callable[[R], P],
    *,
    scope: str = "write",
) -> P:
    """Runs `op` as the mutation's unit of work (`mutate`, the token holding `scope`) and
    answers with `done(row)`, or with `failed(errors=...)` when it was refused."""
    result = await mutate(info, op, scope=scope)
    if isinstance(result, list):
        return failed(errors=errors_of(failed, result))
    return done(result)


def errors_of(payload: Failed[Any], details: list[ErrorDetail]) -> list[UserError]:
    """The payload's own error type (its `errors` field: a list of the domain's error
    type) for each failure."""
    error_type = error_type_of(cast(type, payload))
    return [error_type(field=d.field, code=d.code, message=d.message) for d in details]


@cache
def error_type_of(payload: type) -> Callable[..., UserError]:
    errors = get_object_definition(payload, strict=True).get_field("errors")
    kind = errors.type if errors is not None else None
    item = kind.of_type if isinstance(kind, StrawberryList) else None
    if not (isinstance(item, type) and issubclass(item, UserError)):
        raise TypeError(f"{payload.__name__}.errors is not a list of a UserError type")
    return item
