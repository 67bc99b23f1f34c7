"""Where and when the data were taken: a file's coverage read from its profile, a version's
and a dataset's as the union of what they hold, and a person's corrections.

The union of boxes (`union_boxes`) is the smallest box holding every part. Longitudes go
round a circle: the union leaves out the widest stretch of longitude that no part touches.
When that stretch holds the antimeridian the box is an ordinary one (west <= east);
otherwise the box crosses the antimeridian and west > east (e.g. Fiji: west 177, east
-178). Ties keep the box from crossing. Latitudes: the lowest south, the highest north.
Periods: the earliest start and the latest end known.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Float,
    Integer,
    and_,
    case,
    column,
    func,
    literal,
    literal_column,
    or_,
    select,
    table,
    union,
)
from sqlalchemy.ext.asyncio import AsyncSession

from server.core.db import UTCDateTime
from server.core.errors import Collector, ErrorCode
from server.datasets.errors import DatasetErrorCode
from server.models import Dataset, DatasetFile, DatasetVersion
from server.models.enums import CoverageSource

FULL_CIRCLE = 360.0


@dataclass(frozen=True)
class Box:
    west: float
    south: float
    east: float
    north: float

    @property
    def crosses_antimeridian(self) -> bool:
        return self.west > self.east

    def arc(self) -> tuple[float, float]:
        """The longitudes as (start, length) going east from `west`."""
        if self.west == -180.0 and self.east == 180.0:
            return -180.0, FULL_CIRCLE
        length = self.east - self.west
        return self.west, length + FULL_CIRCLE if length < 0 else length


@dataclass(frozen=True)
class Period:
    start: dt.datetime | None
    end: dt.datetime | None


# ---- checks ----------------------------------------------------------------------------


def check_box(
    errors: Collector, field: str, west: float, south: float, east: float, north: float
) -> Box | None:
    """A box in degrees: longitudes in [-180, 180] (west > east crosses the antimeridian),
    latitudes in [-90, 90] with south <= north."""
    valid = True
    if not all(math.isfinite(v) and -180 <= v <= 180 for v in (west, east)):
        errors.add(
            DatasetErrorCode.INVALID_LONGITUDE,
            "longitudes are degrees from -180 to 180 (west > east crosses the antimeridian)",
            field,
        )
        valid = False
    if not all(math.isfinite(v) and -90 <= v <= 90 for v in (south, north)) or south > north:
        errors.add(
            DatasetErrorCode.INVALID_LATITUDE,
            "latitudes are degrees from -90 to 90, south not above north",
            field,
        )
        valid = False
    return Box(west, south, east, north) if valid else None


def as_utc(value: dt.datetime | None) -> dt.datetime | None:
    """A datetime in UTC; one without a zone is taken as UTC."""
    if value is None:
        return None
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def check_period(
    errors: Collector, field: str, start: dt.datetime | None, end: dt.datetime | None
) -> Period | None:
    start, end = as_utc(start), as_utc(end)
    if start is None and end is None:
        errors.add(ErrorCode.INVALID_PERIOD, "a period needs a start or an end", field)
        return None
    if start is not None and end is not None and start > end:
        errors.add(ErrorCode.INVALID_PERIOD, "the period ends before it starts", field)
        return None
    return Period(start, end)


# ---- from a profile ----------------------------------------------------------------------


def _degrees(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _instant(value: Any) -> dt.datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    return as_utc(parsed)


def box_of(raw: Any) -> Box | None:
    """The agreed `[west, south, east, north]`; None for anything else (a profile is the
    extractor's word, never trusted blindly)."""
    if not isinstance(raw, list | tuple) or len(raw) != 4:
        return None
    values = [_degrees(v) for v in raw]
    if any(v is None for v in values):
        return None
    west, south, east, north = (float(v) for v in values if v is not None)
    errors = Collector()
    return check_box(errors, "bbox", west, south, east, north)


def from_profile(profile: Any) -> tuple[Box | None, Period | None]:
    """A file's coverage from its profile's `coverage` key (the extractors' agreed shape:
    `{"bbox": [w, s, e, n] | null, "time_start": ISO-8601 | null, "time_end": ...}`)."""
    coverage = profile.get("coverage") if isinstance(profile, dict) else None
    if not isinstance(coverage, dict):
        return None, None
    box = box_of(coverage.get("bbox"))
    start, end = _instant(coverage.get("time_start")), _instant(coverage.get("time_end"))
    if start is not None and end is not None and start > end:
        start, end = end, start
    period = Period(start, end) if start is not None or end is not None else None
    return box, period


# ---- unions ------------------------------------------------------------------------------


def _longitudes(boxes: Sequence[Box]) -> tuple[float, float]:
    """(west, east) of the smallest arc holding every box's longitudes; the edges are the
    boxes' own (or +-180), never computed, so they read back exactly."""
    spans: list[tuple[float, float]] = []  # (west, east) within [-180, 180], west <= east
    for box in boxes:
        if box.arc()[1] >= FULL_CIRCLE:
            return -180.0, 180.0
        if box.crosses_antimeridian:  # the two pieces either side of 180
            spans += [(box.west, 180.0), (-180.0, box.east)]
        else:
            spans.append((box.west, box.east))
    spans.sort()
    merged: list[list[float]] = []
    for west, east in spans:
        if merged and west <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], east)
        else:
            merged.append([west, east])
    # the stretch across the antimeridian first: on a tie, the box does not cross
    first, last = merged[0], merged[-1]
    widest = ((first[0] + 180.0) + (180.0 - last[1]), first[0], last[1])
    for before, after in zip(merged, merged[1:], strict=False):
        gap = after[0] - before[1]
        if gap > widest[0]:
            widest = (gap, after[0], before[1])
    if widest[0] <= 0:
        return -180.0, 180.0
    return widest[1], widest[2]


def union_boxes(boxes: Iterable[Box | None]) -> Box | None:
    known = [b for b in boxes if b is not None]
    if not known:
        return None
    west, east = _longitudes(known)
    return Box(west, min(b.south for b in known), east, max(b.north for b in known))


def union_periods(periods: Iterable[Period | None]) -> Period | None:
    known = [p for p in periods if p is not None]
    starts = [p.start for p in known if p.start is not None]
    ends = [p.end for p in known if p.end is not None]
    if not starts and not ends:
        return None
    return Period(min(starts) if starts else None, max(ends) if ends else None)


def union_source(sources: Iterable[CoverageSource | None]) -> CoverageSource | None:
    found = {s for s in sources if s is not None}
    if not found:
        return None
    return found.pop() if len(found) == 1 else CoverageSource.MIXED


# ---- rows --------------------------------------------------------------------------------


def box_of_row(row: Any) -> Box | None:
    if row.west is None or row.south is None or row.east is None or row.north is None:
        return None
    return Box(row.west, row.south, row.east, row.north)


def period_of_row(row: Any) -> Period | None:
    if row.time_start is None and row.time_end is None:
        return None
    return Period(row.time_start, row.time_end)


def put_box(row: Any, box: Box | None) -> None:
    row.west, row.south = (box.west, box.south) if box else (None, None)
    row.east, row.north = (box.east, box.north) if box else (None, None)


def put_period(row: Any, period: Period | None) -> None:
    row.time_start = period.start if period else None
    row.time_end = period.end if period else None


def apply_profile(file: DatasetFile) -> None:
    """A file's coverage columns from its profile."""
    box, period = from_profile(file.profile)
    put_box(file, box)
    put_period(file, period)


def _unite(row: Any, parts: Sequence[Any], sources: tuple[Sequence[Any], Sequence[Any]]) -> None:
    """The row's bbox and period as the union of `parts`, except a part a person set."""
    if row.bbox_source != CoverageSource.PERSON:
        box = union_boxes(box_of_row(p) for p in parts)
        put_box(row, box)
        row.bbox_source = union_source(sources[0]) if box else None
    if row.time_source != CoverageSource.PERSON:
        period = union_periods(period_of_row(p) for p in parts)
        put_period(row, period)
        row.time_source = union_source(sources[1]) if period else None


def carry_corrections(previous: DatasetVersion, draft: DatasetVersion) -> None:
    """A new draft keeps what a person set on the version it starts from."""
    if previous.bbox_source == CoverageSource.PERSON:
        put_box(draft, box_of_row(previous))
        draft.bbox_source = CoverageSource.PERSON
    if previous.time_source == CoverageSource.PERSON:
        put_period(draft, period_of_row(previous))
        draft.time_source = CoverageSource.PERSON
    if CoverageSource.PERSON in (previous.bbox_source, previous.time_source):
        draft.coverage_edited_by = previous.coverage_edited_by
        draft.coverage_edited_at = previous.coverage_edited_at


async def refresh_version(session: AsyncSession, version: DatasetVersion) -> None:
    """The version's coverage from its files (all read from data), then its dataset's."""
    files = (
        await session.scalars(select(DatasetFile).where(DatasetFile.version_id == version.id))
    ).all()
    data = CoverageSource.DATA
    boxes = [data for f in files if box_of_row(f)]
    periods = [data for f in files if period_of_row(f)]
    _unite(version, files, (boxes, periods))
    await session.flush()
    await refresh_dataset(session, version.dataset_id)


async def refresh_dataset(session: AsyncSession, dataset_id: int) -> None:
    """The dataset's coverage: the union of all its versions' (older versions stay
    downloadable, so what they cover is still what the dataset holds)."""
    dataset = await session.get(Dataset, dataset_id, with_for_update=True)
    if dataset is None:
        return
    versions = (
        await session.scalars(select(DatasetVersion).where(DatasetVersion.dataset_id == dataset_id))
    ).all()
    boxes = [v.bbox_source for v in versions if box_of_row(v)]
    periods = [v.time_source for v in versions if period_of_row(v)]
    _unite(dataset, versions, (boxes, periods))
    await session.flush()


# ---- the datasets' filter ----------------------------------------------------------------

SHIFTS = (0, 360, -360)  # a box seen from either side of the antimeridian
_JULIAN_EPOCH = 2440587.5  # the julian day of 1970-01-01T00:00Z


def julian_day(when: dt.datetime) -> float:
    return when.timestamp() / 86400 + _JULIAN_EPOCH


def unwrapped_east(row: Any) -> ColumnElement[float]:
    """The east edge past 180 when the box crosses the antimeridian (the indexes' form)."""
    return case((row.east < row.west, row.east + literal_column("360")), else_=row.east)


def _query_arc(box: Box) -> tuple[float, float]:
    start, length = box.arc()
    return start, start + length


def intersects(row: Any, box: Box, dialect: str) -> ColumnElement[bool]:
    """The row's box meets `box` (both may cross the antimeridian, edges count): exact on
    the columns, and the index's form of the test beside it for the planner."""
    west, east = _query_arc(box)
    east_edge = unwrapped_east(row)
    longitudes = or_(*[and_(row.west <= east + k, east_edge >= west + k) for k in SHIFTS])
    exact = and_(row.west.is_not(None), row.south <= box.north, row.north >= box.south, longitudes)
    if dialect == "postgresql":
        stored = func.box(func.point(row.west, row.south), func.point(east_edge, row.north))
        probes = [
            stored.op("&&")(
                func.box(
                    func.point(literal(west + k, Float), literal(box.south, Float)),
                    func.point(literal(east + k, Float), literal(box.north, Float)),
                )
            )
            for k in SHIFTS
        ]
        return and_(or_(*probes), exact)
    return and_(row.id.in_(_rtree(box, None)), exact)


def in_period(
    row: Any, start: dt.datetime | None, end: dt.datetime | None, dialect: str
) -> ColumnElement[bool]:
    """The row's period meets [start, end] (either open); a row without one does not."""
    known = or_(row.time_start.is_not(None), row.time_end.is_not(None))
    exact = [known]
    if end is not None:
        exact.append(or_(row.time_start.is_(None), row.time_start <= end))
    if start is not None:
        exact.append(or_(row.time_end.is_(None), row.time_end >= start))
    if dialect == "postgresql":
        stored = func.tstzrange(row.time_start, row.time_end, literal_column("'[]'"))
        wanted = func.tstzrange(
            literal(start, UTCDateTime), literal(end, UTCDateTime), literal_column("'[]'")
        )
        return and_(stored.op("&&")(wanted), *exact)
    return and_(row.id.in_(_rtree(None, (start, end))), *exact)


def _rtree(box: Box | None, period: tuple[dt.datetime | None, dt.datetime | None] | None) -> Any:
    """The ids the SQLite R*Tree (migration 0009) finds for a box or a period (a coarse
    first pass: it keeps 32-bit floats, rounded outwards)."""
    rtree = table(
        "search_dataset_coverage",
        *(column(name, Float) for name in ("min_x", "max_x", "min_y", "max_y", "min_t", "max_t")),
        column("id", Integer),
    )
    c = rtree.c
    if period is not None:
        start, end = period
        rule = []
        if end is not None:
            rule.append(c.min_t <= julian_day(end))
        if start is not None:
            rule.append(c.max_t >= julian_day(start))
        return select(c.id).where(*rule)
    assert box is not None
    west, east = _query_arc(box)
    parts = [
        select(c.id).where(
            c.min_x <= east + k, c.max_x >= west + k, c.min_y <= box.north, c.max_y >= box.south
        )
        for k in SHIFTS
    ]
    return union(*parts)
