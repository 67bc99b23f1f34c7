"""Relay plumbing: global ids and keyset connections."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Generic, TypeVar

import strawberry
from strawberry import relay

from server.core.errors import DomainError, ErrorCode
from server.core.pagination import Page, PageArgs, encode_cursor

NodeT = TypeVar("NodeT")


@strawberry.type
class Edge(Generic[NodeT]):
    cursor: str
    node: NodeT


@strawberry.type
class Connection(Generic[NodeT]):
    edges: list[Edge[NodeT]]
    page_info: relay.PageInfo
    total_count: int = strawberry.field(
        description="How many items match the filter (and what the caller may see)."
    )

    @strawberry.field
    def nodes(self) -> list[NodeT]:
        return [edge.node for edge in self.edges]


def connection(page: Page[Any], convert: Callable[[Any], NodeT]) -> Connection[NodeT]:
    edges = [
        Edge(cursor=encode_cursor(key), node=convert(item))
        for key, item in zip(page.keys, page.items, strict=True)
    ]
    return Connection(
        edges=edges,
        page_info=relay.PageInfo(
            has_next_page=page.has_next,
            has_previous_page=page.has_previous,
            start_cursor=edges[0].cursor if edges else None,
            end_cursor=edges[-1].cursor if edges else None,
        ),
        total_count=page.total,
    )


def page_args(
    first: int | None, after: str | None, last: int | None, before: str | None
) -> PageArgs:
    return PageArgs(first=first, after=after, last=last, before=before)


def parse_global_id(value: relay.GlobalID | str, field: str) -> relay.GlobalID:
    """A global id as a client sent it (ids arrive as plain `ID` strings, so that a
    malformed one is the field's INVALID_ID, not a failure of the whole request)."""
    if isinstance(value, relay.GlobalID):
        return value
    try:
        return relay.GlobalID.from_id(value)
    except (ValueError, TypeError):  # GlobalIDValueError is a ValueError
        raise DomainError.one(
            ErrorCode.INVALID_ID, f"{field} is not a valid global id", field
        ) from None


def decode_id(value: relay.GlobalID | str, type_name: str, field: str) -> int:
    """The database id inside a global id, which must name `type_name`."""
    gid = parse_global_id(value, field)
    if gid.type_name != type_name:
        raise DomainError.one(
            ErrorCode.INVALID_ID,
            f"{field} must be the id of a {type_name}, not a {gid.type_name}",
            field,
        )
    try:
        return int(gid.node_id)
    except ValueError:
        raise DomainError.one(
            ErrorCode.INVALID_ID, f"{field} is not a valid global id", field
        ) from None


def optional_id(value: relay.GlobalID | str | None, type_name: str, field: str) -> int | None:
    """decode_id of an id the client may leave out (null); "" is no id, but a bad one."""
    return decode_id(value, type_name, field) if value is not None else None


def int_ids(node_ids: Iterable[str]) -> list[int | None]:
    out: list[int | None] = []
    for raw in node_ids:
        try:
            out.append(int(raw))
        except ValueError:
            out.append(None)
    return out


async def load_nodes(
    loader: Any, ids: Iterable[str], convert: Callable[[Any], NodeT]
) -> list[NodeT | None]:
    """Batch-load `node(id:)` / `nodes(ids:)` targets; unknown or unreadable ids give null."""
    wanted = int_ids(ids)
    keys = sorted({i for i in wanted if i is not None})
    found = dict(zip(keys, await loader.load_many(keys), strict=True))
    return [convert(found[i]) if i is not None and found.get(i) else None for i in wanted]


async def project_node(info: Any, project_id: int) -> Any:
    """The Project type for a project id, through the request's visibility-aware loader
    (None when the caller may not see it)."""
    from schema.projects import Project

    row = await info.context.loaders.project_by_id.load(project_id)
    return Project.from_row(row) if row is not None else None
