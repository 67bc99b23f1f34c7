"""node(id:) and nodes(ids:): strawberry's relay fields, but an id that is malformed or
names no Node type is an INVALID_ID error at its own path (the node null, its siblings
answered), not a failure of the whole request."""

from __future__ import annotations

import inspect
from collections import defaultdict
from typing import Annotated, Any

import strawberry
from strawberry import relay
from strawberry.relay.types import GlobalIDValueError

from schema.connections import parse_global_id
from schema.context import Info
from schema.errors import PublicError
from server.core.errors import DomainError, ErrorCode


def node_type(info: Info, value: str, field: str) -> tuple[type[relay.Node], str]:
    """The Node type an id names and its node id; PublicError (INVALID_ID) otherwise."""
    try:
        gid = parse_global_id(value, field)
        return gid.resolve_type(info), gid.node_id
    except DomainError as error:
        raise PublicError(error) from error
    except GlobalIDValueError as error:
        raise PublicError(DomainError.one(ErrorCode.INVALID_ID, str(error), field)) from error


async def _resolved(value: Any) -> Any:
    return await value if inspect.isawaitable(value) else value


@strawberry.type
class NodeQueries:
    @strawberry.field(description="Fetch any object by its global id")
    async def node(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="The ID of the object.")],
    ) -> relay.Node | None:
        kind, node_id = node_type(info, id, "id")
        found: relay.Node | None = await _resolved(
            kind.resolve_node(node_id, info=info, required=False)
        )
        return found

    @strawberry.field(description="Fetch objects by their global ids")
    async def nodes(
        self,
        info: Info,
        ids: Annotated[
            list[strawberry.ID], strawberry.argument(description="The IDs of the objects.")
        ],
    ) -> list[relay.Node | None]:
        """In the order asked; a bad id is an error at its index, the others answered."""
        out: list[Any] = [None] * len(ids)
        wanted: defaultdict[type[relay.Node], list[tuple[int, str]]] = defaultdict(list)
        for index, value in enumerate(ids):
            try:
                kind, node_id = node_type(info, value, f"ids.{index}")
            except PublicError as error:
                out[index] = error  # graphql-core answers it at ["nodes", index]
                continue
            wanted[kind].append((index, node_id))
        for kind, items in wanted.items():
            found = await _resolved(
                kind.resolve_nodes(info=info, node_ids=[n for _, n in items], required=False)
            )
            for (index, _), node in zip(items, list(found), strict=True):
                out[index] = node
        return out
