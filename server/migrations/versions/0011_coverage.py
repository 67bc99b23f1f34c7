"""coverage: where and when the data were taken, on files, versions and datasets

Columns west/south/east/north (WGS 84 degrees, west > east across the antimeridian) and
time_start/time_end on dataset_files, dataset_versions and datasets; versions and datasets
also say whether each part is the data's or a person's (bbox_source, time_source) and who
edited it last when.

The datasets' coverage filter is indexed:
- SQLite: an R*Tree virtual table search_dataset_coverage (x: longitudes unwrapped so that a
  box crossing the antimeridian runs past 180, y: latitudes, t: julian days), kept in step
  with datasets by triggers in the same transaction;
- PostgreSQL: two GiST indexes on expressions of the columns, a `box` of the unwrapped
  longitudes and the latitudes, and a `tstzrange` of the period (no extension needed).

Existing files' coverage is read from their stored profiles (`profile["coverage"]`) and
united into their versions and datasets.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

from server.core.db import UTCDateTime
from server.datasets import coverage

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

TABLES = ("dataset_files", "dataset_versions", "datasets")
EDITABLE = ("dataset_versions", "datasets")
SOURCES = "'data', 'person', 'mixed'"
# the unwrapped east edge: past 180 when the box crosses the antimeridian
UNWRAPPED_EAST = "CASE WHEN east < west THEN east + 360 ELSE east END"
BOX = f"box(point(west, south), point({UNWRAPPED_EAST}, north))"
PERIOD = "tstzrange(time_start, time_end, '[]')"
# julian days for open ends of a period (the R*Tree holds no infinities)
OPEN_PAST, OPEN_FUTURE = -1.0e7, 1.0e7


def _columns(table: str, sqlite: bool) -> list[tuple[str, str, str | None]]:
    """(name, type, the CHECK the column carries) in the order they are added; a CHECK
    that names another column sits on the later one (SQLite drops columns last first)."""
    lat = f"ck_{table}_coverage_latitudes"
    period = f"ck_{table}_coverage_period"
    timestamp = "DATETIME" if sqlite else "TIMESTAMP WITH TIME ZONE"
    real = "FLOAT" if sqlite else "DOUBLE PRECISION"
    columns: list[tuple[str, str, str | None]] = [
        ("west", real, None),
        ("south", real, None),
        ("east", real, None),
        ("north", real, f"{lat} CHECK (south IS NULL OR north IS NULL OR south <= north)"),
        ("time_start", timestamp, None),
        (
            "time_end",
            timestamp,
            f"{period} CHECK (time_start IS NULL OR time_end IS NULL OR time_start <= time_end)",
        ),
    ]
    if table in EDITABLE:
        for part in ("bbox_source", "time_source"):
            check = f"ck_{table}_{part} CHECK ({part} IN ({SOURCES}))"
            columns.append((part, "VARCHAR(32)", check))
        columns.append(("coverage_edited_by", "VARCHAR(100)", None))
        columns.append(("coverage_edited_at", timestamp, None))
    return columns


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    for table in TABLES:
        for name, kind, check in _columns(table, sqlite):
            constraint = f" CONSTRAINT {check}" if check else ""
            op.execute(f"ALTER TABLE {table} ADD COLUMN {name} {kind}{constraint}")
    _backfill()
    if sqlite:
        _sqlite_index()
    else:
        op.execute(f"CREATE INDEX search_datasets_coverage_box ON datasets USING gist ({BOX})")
        op.execute(
            f"CREATE INDEX search_datasets_coverage_period ON datasets USING gist ({PERIOD})"
        )


def downgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        for suffix in ("ai", "au", "ad"):
            op.execute(f"DROP TRIGGER IF EXISTS search_dataset_coverage_{suffix}")
        op.execute("DROP TABLE IF EXISTS search_dataset_coverage")
    else:
        op.execute("DROP INDEX IF EXISTS search_datasets_coverage_box")
        op.execute("DROP INDEX IF EXISTS search_datasets_coverage_period")
    for table in TABLES:
        for name, _, _ in reversed(_columns(table, sqlite)):
            op.execute(f"ALTER TABLE {table} DROP COLUMN {name}")


# ---- SQLite: R*Tree --------------------------------------------------------------------

_RTREE_ROW = f"""
INSERT INTO search_dataset_coverage (id, min_x, max_x, min_y, max_y, min_t, max_t)
SELECT d.id,
       coalesce(d.west, -180),
       coalesce(CASE WHEN d.east < d.west THEN d.east + 360 ELSE d.east END, 180),
       coalesce(d.south, -90), coalesce(d.north, 90),
       coalesce(julianday(d.time_start), {OPEN_PAST}),
       coalesce(julianday(d.time_end), {OPEN_FUTURE})
FROM datasets d
WHERE {{where}}
  AND (d.west IS NOT NULL OR d.time_start IS NOT NULL OR d.time_end IS NOT NULL)"""


def _sqlite_index() -> None:
    op.execute(
        "CREATE VIRTUAL TABLE search_dataset_coverage USING rtree("
        "id, min_x, max_x, min_y, max_y, min_t, max_t)"
    )
    op.execute(_RTREE_ROW.format(where="1 = 1"))
    row = _RTREE_ROW.format(where="d.id = NEW.id")
    op.execute(
        f"CREATE TRIGGER search_dataset_coverage_ai AFTER INSERT ON datasets BEGIN {row}; END"
    )
    op.execute(
        "CREATE TRIGGER search_dataset_coverage_au AFTER UPDATE OF "
        "west, south, east, north, time_start, time_end ON datasets BEGIN "
        f"DELETE FROM search_dataset_coverage WHERE id = OLD.id; {row}; END"
    )
    op.execute(
        "CREATE TRIGGER search_dataset_coverage_ad AFTER DELETE ON datasets BEGIN "
        "DELETE FROM search_dataset_coverage WHERE id = OLD.id; END"
    )


# ---- backfill from the stored profiles ---------------------------------------------------


def _table(name: str, *extra: Any) -> Any:
    columns = [
        sa.column("id", sa.Integer),
        sa.column("west", sa.Float),
        sa.column("south", sa.Float),
        sa.column("east", sa.Float),
        sa.column("north", sa.Float),
        sa.column("time_start", UTCDateTime),
        sa.column("time_end", UTCDateTime),
    ]
    columns += [sa.column(e) if isinstance(e, str) else e for e in extra]
    return sa.table(name, *columns)


def _coverage_values(box: Any, period: Any) -> dict[str, Any]:
    return {
        "west": box.west if box else None,
        "south": box.south if box else None,
        "east": box.east if box else None,
        "north": box.north if box else None,
        "time_start": period.start if period else None,
        "time_end": period.end if period else None,
    }


def _backfill() -> None:
    bind = op.get_bind()
    files = _table("dataset_files", "version_id", sa.column("profile", sa.JSON))
    rows = bind.execute(
        sa.select(files.c.id, files.c.version_id, files.c.profile).where(
            files.c.profile.is_not(None)
        )
    ).all()
    by_version: dict[int, list[Any]] = {}
    for file_id, version_id, stored in rows:
        box, period = coverage.from_profile(stored)
        if box is None and period is None:
            continue
        bind.execute(
            files.update().where(files.c.id == file_id).values(**_coverage_values(box, period))
        )
        by_version.setdefault(version_id, []).append((box, period))
    versions = _table("dataset_versions", "dataset_id", "bbox_source", "time_source")
    by_dataset: dict[int, list[Any]] = {}
    for version_id, parts in by_version.items():
        united = _united(parts)
        bind.execute(versions.update().where(versions.c.id == version_id).values(**united))
        dataset_id: int = bind.execute(
            sa.select(versions.c.dataset_id).where(versions.c.id == version_id)
        ).scalar_one()
        by_dataset.setdefault(dataset_id, []).extend(parts)
    datasets = _table("datasets", "bbox_source", "time_source")
    for dataset_id, parts in by_dataset.items():
        bind.execute(datasets.update().where(datasets.c.id == dataset_id).values(**_united(parts)))


def _united(parts: list[Any]) -> dict[str, Any]:
    box = coverage.union_boxes(b for b, _ in parts)
    period = coverage.union_periods(p for _, p in parts)
    values = _coverage_values(box, period)
    values["bbox_source"] = "data" if box else None
    values["time_source"] = "data" if period else None
    return values
