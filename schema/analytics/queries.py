"""Programme analytics, read: themeStats, collaborationNetwork, activityTimeSeries."""

from __future__ import annotations

from typing import Annotated

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession
from strawberry import relay

from schema.analytics.types import (
    ActivityPoint,
    CollaborationNetwork,
    NetworkEdge,
    NetworkNode,
    StatsFilter,
    ThemeStats,
)
from schema.connections import decode_id
from schema.context import Info
from schema.errors import read
from server import analytics as service
from server.models.enums import ProjectPhase as ProjectPhaseEnum


def to_filter(flt: StatsFilter | None) -> service.StatsFilter:
    if flt is None:
        return service.StatsFilter()
    return service.StatsFilter(
        themes=[decode_id(t, "Theme", "filter.themes") for t in flt.themes or []],
        countries=list(flt.countries or []),
        phases=[ProjectPhaseEnum(p) for p in flt.phases or []],
        years=list(flt.years or []),
    )


@strawberry.type
class AnalyticsQueries:
    @strawberry.field(description="Programme figures by theme, country, phase, year and SDG")
    def theme_stats(self, filter: StatsFilter | None = None) -> ThemeStats | None:
        return ThemeStats(filter=to_filter(filter))

    @strawberry.field(description="Institutions as nodes, shared projects and datasets as edges")
    async def collaboration_network(
        self,
        info: Info,
        filter: StatsFilter | None = None,
        max_edges: Annotated[
            int,
            strawberry.argument(
                description="Keep the strongest edges (most shared projects), "
                f"at most {service.MAX_EDGES}"
            ),
        ] = 500,
    ) -> CollaborationNetwork | None:
        principal, flt = info.context.principal, to_filter(filter)

        async def op(session: AsyncSession) -> service.Network:
            return await service.collaboration_network(session, principal, flt, max_edges)

        net = await read(info, op)
        return CollaborationNetwork(
            nodes=[
                NetworkNode(
                    institution_id=n.id,
                    name=n.name,
                    country_code=n.country,
                    kind=n.kind,
                    side=n.side,
                    projects=n.projects,
                )
                for n in net.nodes
            ],
            edges=[
                NetworkEdge(
                    source=relay.GlobalID("Institution", str(e.source)),
                    target=relay.GlobalID("Institution", str(e.target)),
                    shared_projects=e.projects,
                    shared_datasets=e.datasets,
                    japan_partner=e.japan_partner,
                    weight=e.projects + e.datasets,
                )
                for e in net.edges
            ],
        )

    @strawberry.field(description="Projects started and datasets published per month per theme")
    async def activity_time_series(
        self, info: Info, filter: StatsFilter | None = None
    ) -> list[ActivityPoint] | None:
        principal, flt = info.context.principal, to_filter(filter)

        async def op(session: AsyncSession) -> list[service.Point]:
            return await service.activity_series(session, principal, flt)

        return [
            ActivityPoint(
                theme_id=p.theme_id,
                month=p.month,
                projects_started=p.projects,
                datasets_published=p.datasets,
            )
            for p in await read(info, op)
        ]
