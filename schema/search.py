"""Full-text search over projects, datasets, institutions and researchers."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession
from strawberry import relay

from schema.context import Info
from schema.datasets import Dataset
from schema.errors import read
from schema.institutions import Institution
from schema.projects import Project
from schema.researchers import Researcher
from server.datasets.queries import datasets_by_id
from server.search import queries as service

SearchType = strawberry.enum(service.SearchType, name="SearchType")

SearchResult = Annotated[
    Project | Dataset | Institution | Researcher,
    strawberry.union("SearchResult", description="What a search can find"),
]


@strawberry.type(description="One hit: the object found, how well it matched, where")
class SearchEdge:
    cursor: str
    rank: float = strawberry.field(description="Higher is better; comparable within one search")
    highlight: str = strawberry.field(
        description="The best matching passage, HTML-escaped, matches wrapped in <mark></mark>"
    )
    type: SearchType  # type: ignore[valid-type]
    node: SearchResult


@strawberry.type
class SearchConnection:
    edges: list[SearchEdge]
    page_info: relay.PageInfo
    total_count: int = strawberry.field(description="How many objects you may see match")


async def _nodes(info: Info, hits: list[service.Hit]) -> list[Any]:
    loaders = info.context.loaders
    convert: dict[service.SearchType, tuple[Any, Any]] = {
        service.SearchType.PROJECT: (loaders.project_by_id, Project.from_row),
        service.SearchType.DATASET: (loaders.one_visible(datasets_by_id), Dataset.from_row),
        service.SearchType.INSTITUTION: (loaders.institution_by_id, Institution.from_row),
        service.SearchType.RESEARCHER: (loaders.researcher_by_id, Researcher.from_row),
    }
    rows = await asyncio.gather(*(convert[hit.type][0].load(hit.id) for hit in hits))
    return [
        convert[hit.type][1](row) if row is not None else None
        for hit, row in zip(hits, rows, strict=True)
    ]


@strawberry.type
class SearchQueries:
    @strawberry.field(
        description="Full-text search, best matches first. Names match in any language "
        f"(English or local); at most {service.MAX_QUERY_LENGTH} characters, "
        f"first at most {service.MAX_FIRST}"
    )
    async def search(
        self,
        info: Info,
        query: str,
        types: list[SearchType] | None = None,  # type: ignore[valid-type]
        first: int | None = None,
        after: str | None = None,
    ) -> SearchConnection | None:
        principal = info.context.principal
        wanted: list[service.SearchType] = list(types or [])

        async def op(session: AsyncSession) -> service.Results:
            return await service.search(session, principal, query, wanted, first, after)

        results = await read(info, op)
        nodes = await _nodes(info, results.hits)
        edges = [
            SearchEdge(
                cursor=hit.cursor,
                rank=hit.rank,
                highlight=hit.highlight,
                type=hit.type,
                node=node,
            )
            for hit, node in zip(results.hits, nodes, strict=True)
            if node is not None
        ]
        return SearchConnection(
            edges=edges,
            page_info=relay.PageInfo(
                has_next_page=results.has_next,
                has_previous_page=results.offset > 0,
                start_cursor=edges[0].cursor if edges else None,
                end_cursor=edges[-1].cursor if edges else None,
            ),
            total_count=results.total,
        )
