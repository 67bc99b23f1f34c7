"""Programme analytics: the GraphQL types of theme statistics, the collaboration network and
activity over time."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession
from strawberry import relay

from schema.context import Info
from schema.errors import read
from schema.evaluation import DacRating
from schema.institutions import Institution, InstitutionKind
from schema.loaders import present
from schema.projects import ProjectPhase
from schema.scalars import Long
from schema.themes import Theme
from server import analytics as service


@strawberry.input(description="Narrows analytics to projects matching every given list")
class StatsFilter:
    themes: list[strawberry.ID] | None = strawberry.field(
        default=None, description="Theme ids; a theme includes its sub-themes"
    )
    countries: list[str] | None = strawberry.field(
        default=None, description="Partner countries, ISO 3166-1 alpha-2 (e.g. TH, ID)"
    )
    phases: list[ProjectPhase] | None = None  # type: ignore[valid-type]
    years: list[int] | None = strawberry.field(
        default=None, description="Years in which projects started"
    )


@strawberry.type(description="An amount of money in one currency")
class CurrencyAmount:
    currency: str = strawberry.field(description="ISO 4217 code, e.g. JPY, THB, LAK")
    amount: Decimal = strawberry.field(description="Exact, in that currency (not converted)")


@strawberry.type(description="Dispatches of experts from one origin country")
class OriginFigures:
    country_code: str
    dispatches: int
    person_months: float


@strawberry.type(description="How many evaluations gave a rating on one DAC criterion")
class RatingCount:
    criterion: str = strawberry.field(
        description="relevance, coherence, effectiveness, impact, efficiency or sustainability"
    )
    rating: DacRating  # type: ignore[valid-type]
    count: int


@strawberry.type(description="Figures of a set of projects, counting only what you may see")
class StatsFigures:
    projects: int
    institutions: int
    japanese_institutions: int
    partner_institutions: int
    third_country_institutions: int
    researchers: int
    expert_dispatches: int
    expert_person_months: float = strawberry.field(description="30-day months of dispatches")
    experts_by_origin: list[OriginFigures]
    training_participants: int
    equipment_values: list[CurrencyAmount] = strawberry.field(
        description="Recorded value of the equipment provided, one entry per ISO 4217 currency"
        " (by code); amounts in different currencies are not added or converted"
    )
    equipment_value: float | None = strawberry.field(
        description="The equipment value when it is recorded in one currency only (0 with no"
        " equipment); null when currencies are mixed",
        deprecation_reason="A sum across currencies means nothing: use equipmentValues",
    )
    indicators: int
    indicators_on_track: int
    evaluations: int
    ratings: list[RatingCount]
    datasets: int = strawberry.field(description="Datasets whose metadata you may see")
    versions: int
    bytes_stored: Long = strawberry.field(description="Bytes of READY uploads")
    uploads_ready: int
    uploads_failed: int

    @classmethod
    def of(cls, f: service.Figures) -> StatsFigures:
        return cls(
            projects=f.projects,
            institutions=f.institutions,
            japanese_institutions=f.japanese_institutions,
            partner_institutions=f.partner_institutions,
            third_country_institutions=f.third_country_institutions,
            researchers=f.researchers,
            expert_dispatches=f.expert_dispatches,
            expert_person_months=round(f.expert_person_months, 2),
            experts_by_origin=[
                OriginFigures(country_code=c, dispatches=n, person_months=round(pm, 2))
                for c, (n, pm) in sorted(f.experts_by_origin.items())
            ],
            training_participants=f.training_participants,
            equipment_values=[
                CurrencyAmount(currency=c, amount=v) for c, v in sorted(f.equipment_values.items())
            ],
            equipment_value=(
                float(sum(f.equipment_values.values(), Decimal(0)))
                if len(f.equipment_values) <= 1
                else None
            ),
            indicators=f.indicators,
            indicators_on_track=f.indicators_on_track,
            evaluations=f.evaluations,
            ratings=[
                RatingCount(criterion=c, rating=r, count=n)
                for (c, r), n in sorted(f.ratings.items())
            ],
            datasets=f.datasets,
            versions=f.versions,
            bytes_stored=Long(f.bytes_stored),
            uploads_ready=f.uploads_ready,
            uploads_failed=f.uploads_failed,
        )


@strawberry.type
class ThemeFigures:
    theme_id: strawberry.Private[int]
    figures: StatsFigures = strawberry.field(
        description="The theme's projects, its sub-themes' included"
    )

    @strawberry.field
    async def theme(self, info: Info) -> Theme:
        return Theme.from_row(present(await info.context.loaders.theme_by_id.load(self.theme_id)))


@strawberry.type
class CountryFigures:
    country_code: str = strawberry.field(description="Partner country, ISO alpha-2")
    figures: StatsFigures


@strawberry.type
class PhaseFigures:
    phase: ProjectPhase  # type: ignore[valid-type]
    figures: StatsFigures


@strawberry.type
class YearFigures:
    year: int = strawberry.field(description="Year the projects started")
    figures: StatsFigures


@strawberry.type
class SdgFigures:
    sdg: int = strawberry.field(description="UN SDG 1-17, through the projects' themes")
    figures: StatsFigures


@strawberry.type(description="One cell of the theme x partner country matrix")
class ThemeCountryCell:
    theme_id: strawberry.Private[int]
    country_code: str
    projects: int
    datasets: int

    @strawberry.field
    async def theme(self, info: Info) -> Theme:
        return Theme.from_row(present(await info.context.loaders.theme_by_id.load(self.theme_id)))


@strawberry.type(description="Programme figures; each list is computed only when asked for")
class ThemeStats:
    filter: strawberry.Private[service.StatsFilter]

    async def _figures(self, info: Info, dimension: service.Dimension) -> dict[Any, StatsFigures]:
        principal = info.context.principal

        async def op(session: AsyncSession) -> dict[Any, service.Figures]:
            return await service.figures(session, principal, self.filter, dimension)

        return {k: StatsFigures.of(f) for k, f in (await read(info, op)).items()}

    @strawberry.field(
        description="When the materialised figures (cooperation components, dataset versions, "
        "bytes and uploads; every dataset count of staff) were last computed by the workers; "
        "projects, institutions, researchers and what you may see are always read live"
    )
    async def refreshed_at(self, info: Info) -> dt.datetime | None:
        return await read(info, service.refreshed_at)

    @strawberry.field(description="All projects matching the filter")
    async def totals(self, info: Info) -> StatsFigures:
        return (await self._figures(info, "total"))[None]

    @strawberry.field(description="Per theme and sub-theme (a parent includes its children)")
    async def by_theme(self, info: Info) -> list[ThemeFigures]:
        rows = await self._figures(info, "theme")
        return [ThemeFigures(theme_id=k, figures=f) for k, f in sorted(rows.items())]

    @strawberry.field(description="Per partner country")
    async def by_country(self, info: Info) -> list[CountryFigures]:
        rows = await self._figures(info, "country")
        return [CountryFigures(country_code=k, figures=f) for k, f in sorted(rows.items())]

    @strawberry.field(description="Per lifecycle phase")
    async def by_phase(self, info: Info) -> list[PhaseFigures]:
        rows = await self._figures(info, "phase")
        return [PhaseFigures(phase=k, figures=f) for k, f in sorted(rows.items())]

    @strawberry.field(description="Per year of start")
    async def by_year(self, info: Info) -> list[YearFigures]:
        rows = await self._figures(info, "year")
        return [YearFigures(year=k, figures=f) for k, f in sorted(rows.items())]

    @strawberry.field(description="Per SDG, rolled up through the themes")
    async def by_sdg(self, info: Info) -> list[SdgFigures]:
        rows = await self._figures(info, "sdg")
        return [SdgFigures(sdg=k, figures=f) for k, f in sorted(rows.items())]

    @strawberry.field(description="Projects and datasets per theme x partner country (heat map)")
    async def matrix(self, info: Info) -> list[ThemeCountryCell]:
        principal = info.context.principal

        async def op(session: AsyncSession) -> list[service.Cell]:
            return await service.theme_country_matrix(session, principal, self.filter)

        return [
            ThemeCountryCell(
                theme_id=c.theme_id,
                country_code=c.country,
                projects=c.projects,
                datasets=c.datasets,
            )
            for c in await read(info, op)
        ]


SideEnum = strawberry.enum(
    service.Side,
    name="CollaborationSide",
    description="Which side of the cooperation an institution stands on in these projects",
)


@strawberry.type
class NetworkNode:
    institution_id: strawberry.Private[int]
    name: str
    country_code: str
    kind: InstitutionKind  # type: ignore[valid-type]
    side: SideEnum  # type: ignore[valid-type]
    projects: int = strawberry.field(description="Projects of the filter it takes part in")

    @strawberry.field(description="The institution's global id")
    def id(self) -> relay.GlobalID:
        return relay.GlobalID("Institution", str(self.institution_id))

    @strawberry.field
    async def institution(self, info: Info) -> Institution:
        row = await info.context.loaders.institution_by_id.load(self.institution_id)
        return Institution.from_row(present(row))


@strawberry.type
class NetworkEdge:
    source: relay.GlobalID = strawberry.field(description="Institution id (the lower one)")
    target: relay.GlobalID
    shared_projects: int
    shared_datasets: int = strawberry.field(
        description="Datasets you may see of the projects both take part in"
    )
    japan_partner: bool = strawberry.field(
        description="One end Japanese and the other a partner-country institution"
    )
    weight: int = strawberry.field(description="sharedProjects + sharedDatasets")


@strawberry.type(description="Institutions linked by the projects they share")
class CollaborationNetwork:
    nodes: list[NetworkNode]
    edges: list[NetworkEdge]


@strawberry.type(description="Activity of one theme in one month")
class ActivityPoint:
    theme_id: strawberry.Private[int]
    month: dt.date = strawberry.field(description="First day of the month")
    projects_started: int
    datasets_published: int = strawberry.field(
        description="Datasets (that you may see) whose first version was published that month"
    )

    @strawberry.field
    async def theme(self, info: Info) -> Theme:
        return Theme.from_row(present(await info.context.loaders.theme_by_id.load(self.theme_id)))
