"""Gridded data (workers/processing/formats/gridded.py, in the sandbox): NetCDF 3/4 and HDF5
headers, coordinates and coverage. Real files: xarray's example_1.nc (tests/workers/data),
h5py's own test files (in the installed wheel), and a NetCDF-4 file netCDF4 writes from NOAA's
Mauna Loa CO2 annual means (tests/fixtures/gridded.py)."""

from __future__ import annotations

import struct
from pathlib import Path

import cftime
import h5py
import pytest

from server.models.enums import UploadWarningCode
from tests.fixtures.gridded import MAUNA_LOA_CO2, write_mauna_loa
from tests.fixtures.processing import fails, run
from workers.processing import ErrorCode
from workers.processing.formats import coverage as cov

DATA = Path(__file__).parent / "data"
H5PY_DATA = Path(h5py.__file__).parent / "tests" / "data_files"


def by_name(items: list[dict], name: str) -> dict:
    return next(item for item in items if item["name"] == name)


def test_a_netcdf3_file_header_coordinates_and_coverage(tmp_path: Path) -> None:
    result = run(tmp_path, (DATA / "example_1.nc").read_bytes(), "example_1.nc")
    assert result.format.kind == "netcdf"
    profile = result.profile
    assert profile is not None and profile["kind"] == "gridded"
    assert profile["format"] == "NETCDF3_CLASSIC"
    assert profile["source"] == "Fictional Model Output"
    assert profile["dimensions"] == [
        {"name": "lat", "size": 5, "unlimited": False},
        {"name": "lon", "size": 10, "unlimited": False},
        {"name": "level", "size": 4, "unlimited": False},
        {"name": "time", "size": 1, "unlimited": True},
    ]
    temp = by_name(profile["variables"], "temp")
    assert (temp["dtype"], temp["shape"], temp["units"], temp["long_name"]) == (
        "float32",
        [1, 4, 5, 10],
        "celsius",
        "temperature",
    )
    assert temp["dimensions"] == ["time", "level", "lat", "lon"]
    level = by_name(profile["coordinates"], "level")  # a coordinate, not an axis of coverage
    assert (level["axis"], level["min"], level["max"], level["units"]) == (
        None,
        500.0,
        1000.0,
        "millibars",
    )
    assert profile["coverage"] == {
        "bbox": [-160.0, 20.0, -15.0, 60.0],
        "time_start": "1996-01-01T12:00:00Z",
        "time_end": "1996-01-01T12:00:00Z",
    }
    assert [(w.code, w.message) for w in result.warnings] == [
        (UploadWarningCode.NO_UNITS, "variable 'rh' has no units")
    ]
    assert result.parquet_path is None and result.preview is None  # no table made of a grid


def test_a_netcdf4_file_with_a_0_360_longitude_and_a_noleap_calendar(tmp_path: Path) -> None:
    body = write_mauna_loa(tmp_path / "co2.nc").read_bytes()
    assert body.startswith(b"\x89HDF")  # NetCDF-4 is HDF5 underneath
    result = run(tmp_path, body, "mauna_loa_co2.nc")
    assert (result.format.kind, result.format.detail) == ("netcdf", "netcdf4")
    profile = result.profile
    assert profile is not None and profile["format"] == "NETCDF4"
    assert (profile["conventions"], profile["institution"]) == (
        "CF-1.8",
        "NOAA Global Monitoring Laboratory",
    )
    co2 = by_name(profile["variables"], "co2")
    assert co2["standard_name"] == "mole_fraction_of_carbon_dioxide_in_air"
    assert co2["shape"] == [len(MAUNA_LOA_CO2), 1] and co2["units"] == "1e-6"
    time = by_name(profile["coordinates"], "time")
    assert time["calendar"] == "noleap"
    box = profile["coverage"]["bbox"]
    assert box == pytest.approx([-155.576, 19.536, -155.576, 19.536], abs=1e-4)
    assert profile["coverage"]["time_start"] == "2015-07-01T00:00:00Z"
    assert profile["coverage"]["time_end"] == "2023-07-01T00:00:00Z"
    assert result.warnings == []
    words = profile["search_text"]  # for the datasets' search: names, standard names, long names
    assert "mole_fraction_of_carbon_dioxide_in_air" in words and "CO2 mole fraction" in words
    assert words.split().count("latitude") == 1  # once each


def test_an_hdf5_file_is_described_not_read(tmp_path: Path) -> None:
    body = (H5PY_DATA / "compound-dtype-complex.h5").read_bytes()
    result = run(tmp_path, body, "complex.h5")
    assert result.format.kind == "hdf5"
    profile = result.profile
    assert profile is not None and profile["format"] == "HDF5" and profile["groups"] == 1
    c16 = by_name(profile["variables"], "c16")
    assert (c16["dtype"], c16["shape"]) == ("complex128", [100])
    assert c16["attributes"] == {"c1": [4.3, 0.0], "c2": [0.0, -3.4]}
    assert profile["coverage"] == {"bbox": None, "time_start": None, "time_end": None}
    assert {w.code for w in result.warnings} == {UploadWarningCode.NO_UNITS}
    strings = run(tmp_path, (H5PY_DATA / "vlen_string_dset.h5").read_bytes(), "strings.h5")
    assert strings.profile is not None and strings.warnings == []  # text needs no units
    assert by_name(strings.profile["variables"], "DS1")["shape"] == [4]
    assert "c16" in profile["search_text"].split()


def test_truncated_netcdf_files_are_unreadable(tmp_path: Path) -> None:
    classic = (DATA / "example_1.nc").read_bytes()
    error = fails(ErrorCode.UNREADABLE, tmp_path, classic[:100], "cut.nc")
    assert "NetCDF" in error.message
    fails(ErrorCode.UNREADABLE, tmp_path, classic[:10], "cut.nc")  # inside the first counts
    # header whole, data cut: libnetcdf itself would answer zeros for the missing values
    error = fails(ErrorCode.UNREADABLE, tmp_path, classic[:1500], "cut.nc")
    assert error.message == "truncated NetCDF file: its data ends at byte 1532, the file has 1500"
    netcdf4 = write_mauna_loa(tmp_path / "co2.nc").read_bytes()
    fails(ErrorCode.UNREADABLE, tmp_path, netcdf4[: len(netcdf4) // 2], "cut4.nc")


def test_a_header_declaring_a_million_dimensions_is_too_complex(tmp_path: Path) -> None:
    """The classic header's dimension list, with a count of 1,000,000 and 1,000,000 real
    entries: refused from the count, before libnetcdf builds them."""
    entry = struct.pack(">I", 1) + b"d\x00\x00\x00" + struct.pack(">I", 1)
    header = b"CDF\x01" + struct.pack(">I", 0) + struct.pack(">II", 0x0A, 1_000_000)
    body = header + entry * 1_000_000 + bytes(16)
    error = fails(ErrorCode.TOO_COMPLEX, tmp_path, body, "many.nc")
    assert "1000000 dimensions" in error.message
    ok = run(tmp_path, (DATA / "example_1.nc").read_bytes(), "next.nc")  # the next file
    assert ok.profile is not None


def test_longitudes_are_normalised_and_boxes_never_shrink() -> None:
    assert cov.normalise_lon(204.424) == pytest.approx(-155.576)
    assert cov.normalise_lon(180.0) == 180.0 and cov.normalise_lon(-180.0) == -180.0
    assert cov.bbox((-10.0, 10.0), (0.0, 357.5)) == [-180.0, -10.0, 180.0, 10.0]  # a 2.5° grid
    assert cov.bbox((-10.0, 10.0), (0.0, 360.0)) == [-180.0, -10.0, 180.0, 10.0]
    assert cov.bbox((0.0, 5.0), (100.0, 260.0)) == [100.0, 0.0, -100.0, 5.0]  # crosses 180
    assert cov.bbox((10.0, 20.0), (95.0, 110.0)) == [95.0, 10.0, 110.0, 20.0]
    assert cov.bbox(None, (1.0, 2.0)) is None


def test_model_calendars_become_real_dates() -> None:
    feb30 = cftime.num2date(59, "days since 2000-01-01", calendar="360_day")
    assert (feb30.month, feb30.day) == (2, 30)
    assert cov.iso(feb30) == "2000-02-29T00:00:00Z"  # the last day February has
    noleap = cftime.num2date(365 * 4, "days since 2000-01-01", calendar="noleap")
    assert cov.iso(noleap) == "2004-01-01T00:00:00Z"
