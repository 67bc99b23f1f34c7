"""Coverage in space and time, in the shape the datasets domain stores (issue 19):

    {"bbox": [west, south, east, north] | None,     # WGS 84 degrees, west <= east
     "time_start": ISO 8601 | None, "time_end": ISO 8601 | None}

Longitudes are normalised to [-180, 180]. A box whose longitudes span the globe (within
GLOBAL_SLACK degrees: a global grid's cell centres stop one step short of 360) is the whole
band [-180, 180]; a box that crosses the antimeridian (a Pacific model on 0-360 longitudes)
stays crossing, west > east, as the coverage columns and the datasets filter take it
(server/datasets/coverage.py).
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import numpy as np

from server.datasets.coverage import Box, union_boxes

_LAT_UNITS = {"degrees_north", "degree_north", "degree_n", "degrees_n", "degreen", "degreesn"}
_LON_UNITS = {"degrees_east", "degree_east", "degree_e", "degrees_e", "degreee", "degreese"}
_LAT_NAMES = {"lat", "latitude", "nav_lat", "y_lat"}
_LON_NAMES = {"lon", "long", "longitude", "nav_lon", "x_lon"}


GLOBAL_SLACK = 5.0  # degrees short of 360 that still read as the whole globe


def empty() -> dict[str, Any]:
    return {"bbox": None, "time_start": None, "time_end": None}


def axis_of(name: str, attrs: dict[str, Any]) -> str | None:
    """'lat', 'lon' or 'time' for a coordinate, by CF standard_name, units, axis, name."""
    standard = str(attrs.get("standard_name", "")).lower()
    units = str(attrs.get("units", "")).lower().replace(" ", "")
    if standard in ("latitude", "grid_latitude") or units in _LAT_UNITS:
        return "lat" if standard != "grid_latitude" else None
    if standard in ("longitude", "grid_longitude") or units in _LON_UNITS:
        return "lon" if standard != "grid_longitude" else None
    if standard == "time" or " since " in str(attrs.get("units", "")).lower():
        return "time"
    base = name.rsplit("/", 1)[-1].lower()
    plain = units in ("", "degrees", "degree", "deg")
    if base in _LAT_NAMES and plain:
        return "lat"
    if base in _LON_NAMES and plain:
        return "lon"
    return None


def finite_range(values: Any) -> tuple[float, float] | None:
    """The least and greatest finite value (masked ones left out), or None."""
    if np.ma.isMaskedArray(values):
        values = np.ma.filled(np.ma.asarray(values, dtype="float64"), np.nan)
    array = np.asarray(values, dtype="float64").ravel()
    array = array[np.isfinite(array)]  # plain numpy: numpy.ma took most of a header's time
    if array.size == 0:
        return None
    return float(array.min()), float(array.max())


def normalise_lon(value: float) -> float:
    wrapped = ((value + 180.0) % 360.0) - 180.0
    return 180.0 if wrapped == -180.0 and value > 0 else wrapped


def bbox(lat: tuple[float, float] | None, lon: tuple[float, float] | None) -> list[float] | None:
    """[west, south, east, north] from the latitude and longitude ranges, or None."""
    if lat is None or lon is None:
        return None
    south, north = max(lat[0], -90.0), min(lat[1], 90.0)
    if south > north or not all(math.isfinite(v) for v in (*lat, *lon)):
        return None
    if lon[1] - lon[0] >= 360.0 - GLOBAL_SLACK:
        return [-180.0, south, 180.0, north]
    west, east = normalise_lon(lon[0]), normalise_lon(lon[1])
    return [west, south, east, north]  # west > east: it crosses the antimeridian


def iso(value: Any) -> str | None:
    """A datetime or a cftime date as ISO 8601 (UTC). A day that only a model calendar has
    (30 February in 360_day) becomes the last day of that month."""
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
        return moment.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
    try:
        year, month, day = int(value.year), int(value.month), int(value.day)
        last = _month_days(year, month)
        real = dt.datetime(
            year, month, min(day, last), value.hour, value.minute, value.second, tzinfo=dt.UTC
        )
    except (AttributeError, ValueError, OverflowError):
        return None
    return real.isoformat().replace("+00:00", "Z")


def _month_days(year: int, month: int) -> int:
    following = dt.date(year + month // 12, month % 12 + 1, 1)
    return (following - dt.timedelta(days=1)).day


def widen(current: dict[str, Any], other: dict[str, Any]) -> dict[str, Any]:
    """The union of two coverages (boxes and time spans)."""
    boxes = [Box(*b) for b in (current["bbox"], other["bbox"]) if b is not None]
    united = union_boxes(boxes)  # the short way round, across 180 where that is shorter
    box = None if united is None else [united.west, united.south, united.east, united.north]
    starts = [t for t in (current["time_start"], other["time_start"]) if t]
    ends = [t for t in (current["time_end"], other["time_end"]) if t]
    return {
        "bbox": box,
        "time_start": min(starts) if starts else None,
        "time_end": max(ends) if ends else None,
    }
