"""Gridded data: NetCDF 3/4 (netCDF4, the Unidata library) and HDF5 (h5py). Runs in the
sandbox's child process (native.py registers it).

What is read: the header (dimensions, variables with dtype, shape, units, CF standard_name
and long_name, attributes, global attributes) and coordinates only. A 1-D coordinate
variable (CF: strictly monotonic) is read at its two ends; other latitude, longitude and
time coordinates (2-D grids, station lists) in full up to `_FULL_READ` values, else every
n-th value. Data variables are never read.

The profile:

    {"kind": "gridded", "format": "NETCDF4" | "NETCDF3_CLASSIC" | ... | "HDF5",
     "conventions", "title", "institution", "source", "history",   # global attributes
     "attributes": {...}, "dimensions": [{name, size, unlimited}],
     "variables": [{name, dtype, shape, dimensions, units, standard_name, long_name,
                    attributes}],
     "coordinates": [{name, axis, min, max, units, calendar?, start?, end?}],
     "coverage": {"bbox": [w, s, e, n] | None, "time_start": ..., "time_end": ...},
     "search_text": the variables' names, standard names and long names, for the datasets'
                    search (migration 0013), at most `SEARCH_CHARS` characters}

Time coverage: CF "<unit> since <date>" decoded with cftime in the variable's calendar
(standard, noleap, 360_day, ...). Warnings: NO_UNITS for a numeric data variable without
units (bounds and grid-mapping variables excepted), TIME_UNDECODED for a time coordinate
cftime cannot decode. A header declaring more than `Limits.max_variables` dimensions,
variables or groups is TOO_COMPLEX; NetCDF-3 files are checked (classic.py) before libnetcdf
reads them, which it does silently wrong when they are truncated.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from server.models.enums import UploadWarningCode

from ..model import ErrorCode, ProcessingError
from . import coverage as cov
from .classic import check_classic
from .remote import RangedFile

_FULL_READ = 4_000_000  # values of a non-monotonic coordinate read in full
_MAX_TEXT = 2000
_MAX_LIST = 100
_MAX_NO_UNITS = 20
_HIGHLIGHTS = ("Conventions", "title", "institution", "source", "history")
SEARCH_CHARS = 8192


def extract(path: str, workdir: str, options: dict[str, Any]) -> dict[str, Any]:
    limit = int(options.get("max_variables", 10_000))
    if options.get("remote"):  # an HDF5-based file read by range (remote.py), never copied
        return _remote(path, options, limit)
    check_classic(path, limit)  # what libnetcdf would misread, refused first
    if options.get("kind") == "hdf5":
        return _hdf5(path, limit)
    return _netcdf(_open_netcdf(path), limit)


def _remote(url: str, options: dict[str, Any], limit: int) -> dict[str, Any]:
    """NetCDF-4 through h5netcdf (netCDF4's API over h5py, which reads a file object) and
    HDF5 through h5py, both on the object's byte ranges."""
    handle = RangedFile(url, etag=options.get("etag"))
    try:
        if options.get("kind") == "hdf5":
            return _hdf5(handle, limit)
        return _netcdf(_open_netcdf_h5(handle), limit)
    except (ProcessingError, OSError, ValueError, KeyError, RuntimeError):
        handle.reraise()  # the store's fault, not the file's: retried
        raise


# --- NetCDF ----------------------------------------------------------------------------


def _open_netcdf(path: str) -> Any:
    import netCDF4

    try:
        ds = netCDF4.Dataset(path, "r")
    except OSError as error:
        raise ProcessingError(
            ErrorCode.UNREADABLE, f"not a readable NetCDF file: {error}"
        ) from error
    ds.set_auto_maskandscale(False)
    return ds


def _open_netcdf_h5(handle: RangedFile) -> Any:
    import h5netcdf.legacyapi

    try:  # h5netcdf never masks or scales: values come as stored, as set above for netCDF4
        return h5netcdf.legacyapi.Dataset(handle, "r")
    except (OSError, ValueError) as error:
        handle.reraise()
        raise ProcessingError(
            ErrorCode.UNREADABLE, f"not a readable NetCDF file: {error}"
        ) from error


def _netcdf(ds: Any, limit: int) -> dict[str, Any]:
    with ds:
        groups = list(_groups(ds, limit))
        dimensions = [
            {"name": _path(g, name), "size": len(dim), "unlimited": dim.isunlimited()}
            for g in groups
            for name, dim in g.dimensions.items()
        ]
        variables = [(_path(g, name), var) for g in groups for name, var in g.variables.items()]
        if len(dimensions) > limit or len(variables) > limit:
            raise ProcessingError(
                ErrorCode.TOO_COMPLEX,
                f"{len(dimensions)} dimensions, {len(variables)} variables (limit {limit})",
            )
        described = [_nc_variable(name, var) for name, var in variables]
        attributes = {k: _jsonable(ds.getncattr(k)) for k in ds.ncattrs()}
        reader = Reader()
        for (name, var), info in zip(variables, described, strict=True):
            reader.consider(name, info["attributes"], var.dimensions, var)
        profile = _profile(ds.data_model, attributes, dimensions, described, reader)
    return {"profile": profile, "warnings": profile["warnings"]}


def _groups(ds: Any, limit: int) -> Iterator[Any]:
    pending, seen = [ds], 0
    while pending:
        group = pending.pop(0)
        seen += 1
        if seen > limit:
            raise ProcessingError(ErrorCode.TOO_COMPLEX, f"more than {limit} groups")
        yield group
        pending.extend(group.groups.values())


def _path(group: Any, name: str) -> str:
    # netCDF4 names a group's place `path`, h5netcdf `name`
    where = str(getattr(group, "path", None) or getattr(group, "name", "/"))
    return name if where == "/" else f"{where.strip('/')}/{name}"


def _nc_variable(name: str, var: Any) -> dict[str, Any]:
    attrs = {k: _jsonable(var.getncattr(k)) for k in var.ncattrs()}
    return _variable(name, str(var.dtype), list(var.shape), list(var.dimensions), attrs)


def _variable(
    name: str, dtype: str, shape: list[int], dims: list[str], attrs: dict[str, Any]
) -> dict[str, Any]:
    return {
        "name": name,
        "dtype": dtype,
        "shape": shape,
        "dimensions": dims,
        "units": _text_attr(attrs, "units"),
        "standard_name": _text_attr(attrs, "standard_name"),
        "long_name": _text_attr(attrs, "long_name"),
        "attributes": attrs,
    }


# --- HDF5 ------------------------------------------------------------------------------


def _hdf5(path: str | RangedFile, limit: int) -> dict[str, Any]:
    import h5py

    try:
        handle = h5py.File(path, "r")
    except OSError as error:
        raise ProcessingError(ErrorCode.UNREADABLE, f"not a readable HDF5 file: {error}") from error
    with handle:
        found: list[tuple[str, Any]] = []
        groups = 0

        def visit(name: str, item: Any) -> None:
            nonlocal groups
            if isinstance(item, h5py.Dataset):
                found.append((name, item))
            else:
                groups += 1
            if len(found) + groups > limit:
                raise ProcessingError(ErrorCode.TOO_COMPLEX, f"more than {limit} objects")

        handle.visititems(visit)
        described = []
        reader = Reader()
        for name, dataset in found:
            attrs = {k: _jsonable(v) for k, v in dataset.attrs.items()}
            dims = [name] if _is_scale(dataset) else []
            described.append(_variable(name, str(dataset.dtype), list(dataset.shape), dims, attrs))
            reader.consider(name, attrs, tuple(dims), dataset)
        attributes = {k: _jsonable(v) for k, v in handle.attrs.items()}
        profile = _profile("HDF5", attributes, [], described, reader)
        profile["groups"] = groups + 1
    return {"profile": profile, "warnings": profile["warnings"]}


def _is_scale(dataset: Any) -> bool:
    value = dataset.attrs.get("CLASS")
    return bool(value is not None and _jsonable(value) == "DIMENSION_SCALE")


# --- coordinates and the profile -------------------------------------------------------


class Reader:
    """Finds latitude, longitude and time coordinates and reads their ranges."""

    def __init__(self) -> None:
        self.coordinates: list[dict[str, Any]] = []
        self.warnings: list[dict[str, str]] = []
        self.ranges: dict[str, list[tuple[float, float]]] = {"lat": [], "lon": [], "time": []}
        self.times: list[tuple[str, str]] = []

    def consider(self, name: str, attrs: dict[str, Any], dims: tuple[str, ...], var: Any) -> None:
        axis = cov.axis_of(name, attrs)
        monotonic = len(dims) == 1 and dims[0] == name.rsplit("/", 1)[-1]
        if (axis is None and not monotonic) or not np.issubdtype(np.dtype(var.dtype), np.number):
            return  # a data variable, or text
        span = cov.finite_range(_coordinate_values(var, monotonic, attrs))
        if span is None:
            return
        entry: dict[str, Any] = {
            "name": name,
            "axis": axis,
            "min": span[0],
            "max": span[1],
            "units": _text_attr(attrs, "units"),
        }
        if axis == "time":
            self._time(name, attrs, span, entry)
        elif axis is not None:
            self.ranges[axis].append(span)
        self.coordinates.append(entry)

    def _time(
        self, name: str, attrs: dict[str, Any], span: tuple[float, float], entry: dict[str, Any]
    ) -> None:
        import cftime

        units = _text_attr(attrs, "units") or ""
        calendar = _text_attr(attrs, "calendar") or "standard"
        entry["calendar"] = calendar
        try:
            first, last = cftime.num2date(list(span), units, calendar=calendar)
            start, end = cov.iso(first), cov.iso(last)
        except (ValueError, TypeError, OverflowError) as error:
            start = end = None
            reason = str(error)[:200]
        else:
            reason = "outside the years a date can hold"
        if start is None or end is None:
            message = f"time coordinate {name!r} ({units!r}, {calendar}) not decoded: {reason}"
            code = UploadWarningCode.TIME_UNDECODED.value
            self.warnings.append({"code": code, "message": message})
            return
        entry.update(start=start, end=end)
        self.times.append((start, end))

    def coverage(self) -> dict[str, Any]:
        lat = _union(self.ranges["lat"])
        lon = _union(self.ranges["lon"])
        return {
            "bbox": cov.bbox(lat, lon),
            "time_start": min((t[0] for t in self.times), default=None),
            "time_end": max((t[1] for t in self.times), default=None),
        }


def _union(spans: list[tuple[float, float]]) -> tuple[float, float] | None:
    if not spans:
        return None
    return min(s[0] for s in spans), max(s[1] for s in spans)


def _coordinate_values(var: Any, monotonic: bool, attrs: dict[str, Any]) -> Any:
    size = int(np.prod(var.shape)) if var.shape else 1
    if size == 0:
        return np.array([], dtype="float64")
    if var.shape == ():
        values = np.asarray(var[()], dtype="float64").reshape(1)
    elif monotonic and size > 2:
        values = np.asarray([var[0], var[size - 1]], dtype="float64")
    elif size <= _FULL_READ:
        values = np.asarray(var[...], dtype="float64")
    else:
        step = max(1, size // _FULL_READ + 1)
        values = np.asarray(var[tuple(slice(None, None, step) for _ in var.shape)], dtype="float64")
    return _unpack(values, attrs)


def _unpack(values: Any, attrs: dict[str, Any]) -> Any:
    """Fill values out, scale_factor and add_offset applied (CF packing)."""
    values = np.asarray(values, dtype="float64")
    for key in ("_FillValue", "missing_value"):
        fill = attrs.get(key)
        if isinstance(fill, int | float):
            values = np.where(values == fill, np.nan, values)
    scale, offset = attrs.get("scale_factor", 1.0), attrs.get("add_offset", 0.0)
    if isinstance(scale, int | float) and isinstance(offset, int | float):
        values = values * scale + offset
    return values


def _profile(
    file_format: str,
    attributes: dict[str, Any],
    dimensions: list[dict[str, Any]],
    variables: list[dict[str, Any]],
    reader: Reader,
) -> dict[str, Any]:
    warnings = reader.warnings + _no_units(variables, reader)
    profile: dict[str, Any] = {"kind": "gridded", "format": file_format}
    for key in _HIGHLIGHTS:
        profile[key.lower()] = _text_attr(attributes, key)
    profile.update(
        attributes=attributes,
        dimensions=dimensions,
        variables=variables,
        coordinates=reader.coordinates,
        coverage=reader.coverage(),
        search_text=search_text(variables),
        warnings=warnings,
    )
    return profile


def search_text(variables: list[dict[str, Any]]) -> str:
    """What a file is found by: each variable's name (a group path's last part), CF
    standard_name and long_name, once each, in file order, bounded."""
    words = [
        text
        for v in variables
        for text in (v["name"].rsplit("/", 1)[-1], v["standard_name"], v["long_name"])
        if text
    ]
    return " ".join(dict.fromkeys(words))[:SEARCH_CHARS]


def _no_units(variables: list[dict[str, Any]], reader: Reader) -> list[dict[str, str]]:
    coordinates = {c["name"] for c in reader.coordinates}
    helpers: set[str] = set()
    for var in variables:
        for key in ("bounds", "grid_mapping", "climatology"):
            ref = _text_attr(var["attributes"], key)
            if ref:
                helpers.add(ref)
    missing = [
        v["name"]
        for v in variables
        if v["units"] is None
        and v["name"] not in coordinates
        and v["name"].rsplit("/", 1)[-1] not in helpers
        and _numeric(v["dtype"])
        and v["dimensions"] != [v["name"].rsplit("/", 1)[-1]]
    ]
    warnings = [
        {"code": UploadWarningCode.NO_UNITS.value, "message": f"variable {name!r} has no units"}
        for name in missing[:_MAX_NO_UNITS]
    ]
    if len(missing) > _MAX_NO_UNITS:
        more = f"{len(missing) - _MAX_NO_UNITS} more variables have no units"
        warnings.append({"code": UploadWarningCode.NO_UNITS.value, "message": more})
    return warnings


def _numeric(dtype: str) -> bool:
    try:
        kind = np.dtype(dtype).kind
    except TypeError:
        return False
    return kind in "iufc"


def _text_attr(attrs: dict[str, Any], key: str) -> str | None:
    value = attrs.get(key)
    return value if isinstance(value, str) else None


def _jsonable(value: Any) -> Any:
    """An attribute value as JSON can carry it, bounded in size."""
    if isinstance(value, bytes | np.bytes_):
        value = bytes(value).decode("utf-8", errors="replace")
    if isinstance(value, str):
        return value[:_MAX_TEXT]
    if isinstance(value, np.ndarray):
        items = value.ravel()[:_MAX_LIST].tolist()
        return [_jsonable(v) for v in items] if value.size != 1 else _jsonable(items[0])
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    if isinstance(value, complex):
        return [value.real, value.imag]
    if isinstance(value, bool | int | float) or value is None:
        return value
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in list(value)[:_MAX_LIST]]
    return str(value)[:_MAX_TEXT]
