"""Coverage in GraphQL: where and when the data were taken, on files, versions and datasets
(`coverage { bbox { west south east north } timeStart timeEnd bboxSource timeSource
editedBy editedAt }`), the compiled path's builder for it, and setCoverage."""

from __future__ import annotations

import datetime as dt
from typing import Any

import strawberry
from graphql.execution.collect_fields import FieldDetailsList
from sqlalchemy import ColumnElement, case, literal_column, or_
from sqlalchemy.ext.asyncio import AsyncSession

from schema.compiled.compiler import Builder, Compiler
from schema.compiled.mapping import compiled
from schema.compiled.sqljson import sql_text
from server import models
from server.access.auth import Principal
from server.core.errors import DomainError, ErrorCode
from server.datasets import service
from server.models.enums import CoverageSource as CoverageSourceEnum

CoverageSource = strawberry.enum(
    CoverageSourceEnum,
    name="CoverageSource",
    description="DATA: read from the files' profiles (a union of them above a file); PERSON:"
    " set or corrected by an uploader; MIXED: a union of parts of both kinds",
)


NULL: ColumnElement[Any] = literal_column("NULL")


# The compiled path answers Coverage and BoundingBox from the columns of the row that carries
# them (a file's, a version's, a dataset's): their builders read that row.


def _degrees(name: str) -> Builder:
    return lambda c, row, details, args: c.json.real(getattr(row, name))


def _editable(row: Any) -> bool:
    return hasattr(row, "bbox_source")  # versions and datasets; a file's coverage is all data


def _bbox(c: Compiler, row: Any, details: FieldDetailsList, args: Any) -> Any:
    box = c.json.nested(c.object("BoundingBox", row, details))
    return case((row.west.is_not(None), box), else_=NULL)


def _source(name: str) -> Builder:
    def build(c: Compiler, row: Any, details: FieldDetailsList, args: Any) -> Any:
        if _editable(row):
            return c.json.enum(getattr(row, name), CoverageSourceEnum)
        if name == "bbox_source":
            present = row.west.is_not(None)
        else:
            present = or_(row.time_start.is_not(None), row.time_end.is_not(None))
        return case((present, sql_text(CoverageSourceEnum.DATA.name)), else_=NULL)

    return build


def _edited_by(c: Compiler, row: Any, details: FieldDetailsList, args: Any) -> Any:
    return row.coverage_edited_by if _editable(row) else NULL


def _edited_at(c: Compiler, row: Any, details: FieldDetailsList, args: Any) -> Any:
    return c.json.datetime(row.coverage_edited_at) if _editable(row) else NULL


@compiled(
    west=_degrees("west"), south=_degrees("south"), east=_degrees("east"), north=_degrees("north")
)
@strawberry.type(
    description="A WGS 84 box in degrees; west > east when it crosses the antimeridian"
)
class BoundingBox:
    west: float
    south: float
    east: float
    north: float


@compiled(
    bbox=_bbox,
    bbox_source=_source("bbox_source"),
    time_source=_source("time_source"),
    edited_by=_edited_by,
    edited_at=_edited_at,
)
@strawberry.type(
    description="Where and when the data were taken. A version's and a dataset's are the"
    " union of their files' (a dataset: of all its versions), unless a person set a part;"
    " the union of boxes is the smallest box holding them, the short way round the globe"
)
class Coverage:
    bbox: BoundingBox | None
    time_start: dt.datetime | None
    time_end: dt.datetime | None
    bbox_source: CoverageSource | None = strawberry.field(  # type: ignore[valid-type]
        description="Where the box comes from (null without a box)"
    )
    time_source: CoverageSource | None = strawberry.field(  # type: ignore[valid-type]
        description="Where the period comes from (null without one)"
    )
    edited_by: str | None = strawberry.field(description="Who last set a part by hand")
    edited_at: dt.datetime | None


def coverage_of(row: Any) -> Coverage:
    """A row's (or a type's private) coverage columns as the GraphQL value; a file's parts
    come from its data."""
    box = None
    if row.west is not None:
        box = BoundingBox(west=row.west, south=row.south, east=row.east, north=row.north)
    has_time = row.time_start is not None or row.time_end is not None
    data = CoverageSourceEnum.DATA
    return Coverage(
        bbox=box,
        time_start=row.time_start,
        time_end=row.time_end,
        bbox_source=row.bbox_source or (data if box else None),
        time_source=row.time_source or (data if has_time else None),
        edited_by=row.coverage_edited_by,
        edited_at=row.coverage_edited_at,
    )


def coverage_builder(c: Compiler, row: Any, details: FieldDetailsList, args: Any) -> Any:
    """The compiled path's `coverage`: the Coverage object over the same row."""
    return c.object("Coverage", row, details)


@compiled(partial=True, coverage=coverage_builder)
@strawberry.type
class CoverageFields:
    """The `coverage` field of files, versions and datasets (a mixin), from the row's
    coverage columns kept as private fields."""

    west: strawberry.Private[float | None] = None
    south: strawberry.Private[float | None] = None
    east: strawberry.Private[float | None] = None
    north: strawberry.Private[float | None] = None
    time_start: strawberry.Private[dt.datetime | None] = None
    time_end: strawberry.Private[dt.datetime | None] = None
    bbox_source: strawberry.Private[CoverageSourceEnum | None] = None
    time_source: strawberry.Private[CoverageSourceEnum | None] = None
    coverage_edited_by: strawberry.Private[str | None] = None
    coverage_edited_at: strawberry.Private[dt.datetime | None] = None

    @strawberry.field(description="Where and when the data were taken")
    def coverage(self) -> Coverage:
        return coverage_of(self)


def coverage_columns(row: models.DatasetFile | models.Dataset) -> dict[str, Any]:
    """The private fields of CoverageFields from a row that has them."""
    names = ("west", "south", "east", "north", "time_start", "time_end")
    extra = ("bbox_source", "time_source", "coverage_edited_by", "coverage_edited_at")
    return {n: getattr(row, n) for n in names + extra if hasattr(row, n)}


# ---- setCoverage ---------------------------------------------------------------------------


@strawberry.input(description="A WGS 84 box in degrees; west > east crosses the antimeridian")
class BoundingBoxInput:
    west: float
    south: float
    east: float
    north: float


@strawberry.input(description="A period; either end may be open (null), not both")
class PeriodInput:
    start: dt.datetime | None = None
    end: dt.datetime | None = None


@strawberry.input
class SetCoverageInput:
    id: strawberry.ID = strawberry.field(description="A Dataset, or a DatasetVersion (a draft)")
    bbox: BoundingBoxInput | None = strawberry.field(
        default=strawberry.UNSET,
        description="The box (left out: unchanged; null: back to the union of the data)",
    )
    period: PeriodInput | None = strawberry.field(
        default=strawberry.UNSET,
        description="The period (left out: unchanged; null: back to the union of the data)",
    )


def _given(value: Any, fields: tuple[str, ...]) -> Any:
    if value is strawberry.UNSET:
        return service.KEEP
    return None if value is None else tuple(getattr(value, f) for f in fields)


async def set_coverage_op(
    session: AsyncSession, principal: Principal, input: SetCoverageInput
) -> models.Dataset | models.DatasetVersion:
    from schema.connections import decode_id, parse_global_id
    from schema.errors import fields_named

    gid = parse_global_id(input.id, "id")
    target = {"Dataset": "dataset_id", "DatasetVersion": "version_id"}.get(gid.type_name)
    if target is None:
        raise DomainError.one(
            ErrorCode.INVALID_ID, "id must be a Dataset or DatasetVersion id", "id"
        )
    key = decode_id(gid, gid.type_name, "id")
    with fields_named(datasetId="id", versionId="id"):
        return await service.set_coverage(
            session,
            principal,
            **{target: key},
            bbox=_given(input.bbox, ("west", "south", "east", "north")),
            period=_given(input.period, ("start", "end")),
        )
