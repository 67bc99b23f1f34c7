"""Rebuild server/demo/data/datasets/ from the wheels that ship the source data.

    pip download --no-deps bokeh-sampledata==2026.1 pyogrio==0.13.0 obspy==1.5.1 -d WHEELS
    pip install --no-deps --target PYOGRIO WHEELS/pyogrio-0.13.0-*.whl
    PYTHONPATH=PYOGRIO python scripts/demo_datasets.py WHEELS

Each file is a small extract; SOURCES.md beside the files says where each came from, under
which licence, and how it was cut. The script is deterministic: run twice, same bytes.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import sys
import tempfile
import zipfile
from collections import defaultdict
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

OUT = Path(__file__).resolve().parents[1] / "server" / "demo" / "data" / "datasets"
MEKONG = ("Cambodia", "Lao People's Democratic Republic", "Thailand", "Viet Nam")
CORAL_TRIANGLE = ("IDN", "PHL", "MYS", "PNG", "TLS", "SLB")
MEKONG_ISO = ("KHM", "LAO", "MMR", "THA", "VNM")  # the Mekong's lower basin and Myanmar
MARMARA = (40.0, 41.6, 26.5, 30.5)  # lat min, lat max, lon min, lon max


def _member(wheels: Path, pattern: str, name: str) -> bytes:
    wheel = next(wheels.glob(pattern))
    with zipfile.ZipFile(wheel) as archive:
        return archive.read(name)


def _bokeh_csv(wheels: Path, name: str) -> list[dict[str, str]]:
    raw = _member(wheels, "bokeh_sampledata-2026.1-*.whl", f"bokeh_sampledata/_data/{name}")
    text = gzip.decompress(raw).decode() if name.endswith(".gz") else raw.decode()
    return list(csv.DictReader(io.StringIO(text)))


def population_mekong(wheels: Path) -> None:
    """WPP 2024: total population (both sexes, all ages) of the four Mekong countries."""
    rows = _bokeh_csv(wheels, "population.csv.gz")
    totals: dict[tuple[str, str, str], int] = defaultdict(int)
    for r in rows:
        if r["Location"] in MEKONG and 1990 <= int(r["Year"]) <= 2050:
            totals[(r["LocID"], r["Location"], r["Year"])] += int(r["Value"])
    with (OUT / "wpp2024-mekong-population.csv").open("w", newline="") as out:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["loc_id", "country", "year", "population"])
        for (loc, country, year), value in sorted(totals.items(), key=lambda x: (x[0][1], x[0][2])):
            writer.writerow([loc, country, year, value])


def population_kenya_ages(wheels: Path) -> None:
    """WPP 2024: Kenya by sex and five-year age group, 2000, 2025 and 2050, as Parquet."""
    rows = [
        r
        for r in _bokeh_csv(wheels, "population.csv.gz")
        if r["Location"] == "Kenya" and r["Year"] in ("2000", "2025", "2050")
    ]
    rows.sort(key=lambda r: (int(r["Year"]), r["Sex"], int(r["AgeGrpStart"])))
    table = pa.table(
        {
            "year": pa.array([int(r["Year"]) for r in rows], pa.int16()),
            "sex": pa.array([r["Sex"].lower() for r in rows], pa.string()),
            "age_group": pa.array([r["AgeGrp"] for r in rows], pa.string()),
            "age_start": pa.array([int(r["AgeGrpStart"]) for r in rows], pa.int16()),
            "population": pa.array([int(r["Value"]) for r in rows], pa.int64()),
        }
    )
    pq.write_table(table, OUT / "wpp2024-kenya-age-sex.parquet", compression="zstd")


def gapminder_zambia(wheels: Path) -> None:
    """Gapminder: Zambia's fertility, life expectancy and population, 1964-2013, as TSV."""
    rows = [r for r in _bokeh_csv(wheels, "gapminder.csv.gz") if r["country"] == "Zambia"]
    with (OUT / "gapminder-zambia.tsv").open("w", newline="") as out:
        writer = csv.writer(out, delimiter="\t", lineterminator="\n")
        writer.writerow(["year", "fertility", "life_expectancy", "population"])
        for r in sorted(rows, key=lambda r: int(r["year"])):
            writer.writerow([r["year"], r["fertility"], r["life_expectancy"], r["population"]])


def geonames_marmara(wheels: Path) -> None:
    """GeoNames cities5000: places of 5,000+ inhabitants in a box around the Sea of Marmara."""
    lat0, lat1, lon0, lon1 = MARMARA
    places = [
        {"name": r["name"], "lat": round(float(r["lat"]), 5), "lon": round(float(r["lng"]), 5)}
        for r in _bokeh_csv(wheels, "world_cities.csv.gz")
        if lat0 <= float(r["lat"]) <= lat1 and lon0 <= float(r["lng"]) <= lon1
    ]
    places.sort(key=lambda p: (p["name"], p["lat"], p["lon"]))
    text = json.dumps(places, ensure_ascii=False, indent=1)
    (OUT / "geonames-marmara-places.json").write_text(text + "\n", encoding="utf-8")


def natural_earth_coral_triangle(wheels: Path) -> None:
    """Natural Earth (1:110m, as pyogrio ships it): the six Coral Triangle countries."""
    import pyogrio

    base = "pyogrio/tests/fixtures/naturalearth_lowres/naturalearth_lowres"
    with tempfile.TemporaryDirectory() as work:
        for ext in ("shp", "shx", "dbf", "prj", "cpg"):
            data = _member(wheels, "pyogrio-0.13.0-*.whl", f"{base}.{ext}")
            (Path(work) / f"ne.{ext}").write_bytes(data)
        codes = ", ".join(f"'{c}'" for c in CORAL_TRIANGLE)
        meta, _, geometry, fields = pyogrio.raw.read(
            f"{work}/ne.shp", where=f"iso_a3 IN ({codes})", columns=["name", "iso_a3", "pop_est"]
        )
        target = OUT / "naturalearth-coral-triangle.geojson"
        target.unlink(missing_ok=True)
        pyogrio.raw.write(
            str(target),
            geometry,
            fields,
            fields=meta["fields"],
            driver="GeoJSON",
            crs=meta["crs"],
            geometry_type=meta["geometry_type"],
            layer_options={"COORDINATE_PRECISION": 4, "RFC7946": "YES"},
        )


def natural_earth_mekong(wheels: Path) -> None:
    """Natural Earth (1:110m, as pyogrio ships it): the Mekong countries, as FlatGeobuf (a
    vector format the pipeline reads with pyogrio; no timestamps inside: same bytes)."""
    import pyogrio

    base = "pyogrio/tests/fixtures/naturalearth_lowres/naturalearth_lowres"
    with tempfile.TemporaryDirectory() as work:
        for ext in ("shp", "shx", "dbf", "prj", "cpg"):
            data = _member(wheels, "pyogrio-0.13.0-*.whl", f"{base}.{ext}")
            (Path(work) / f"ne.{ext}").write_bytes(data)
        codes = ", ".join(f"'{c}'" for c in MEKONG_ISO)
        meta, _, geometry, fields = pyogrio.raw.read(
            f"{work}/ne.shp", where=f"iso_a3 IN ({codes})", columns=["name", "iso_a3", "pop_est"]
        )
        target = OUT / "naturalearth-mekong-countries.fgb"
        target.unlink(missing_ok=True)
        pyogrio.raw.write(
            str(target),
            geometry,
            fields,
            fields=meta["fields"],
            driver="FlatGeobuf",
            crs=meta["crs"],
            geometry_type=meta["geometry_type"],
            layer="mekong_countries",
            layer_options={"SPATIAL_INDEX": "NO"},
        )


def anmo_maule_record(wheels: Path) -> None:
    """A minute of IU.ANMO.00.BHZ as the 2010 Maule earthquake's waves arrive (miniSEED as
    ObsPy ships it), copied unchanged."""
    member = "obspy/clients/iris/tests/data/IU.ANMO.00.BHZ.mseed"
    data = _member(wheels, "obspy-1.5.1-*.whl", member)
    (OUT / "iu-anmo-bhz-maule-2010.mseed").write_bytes(data)


def main() -> None:
    wheels = Path(sys.argv[1])
    OUT.mkdir(parents=True, exist_ok=True)
    population_mekong(wheels)
    population_kenya_ages(wheels)
    gapminder_zambia(wheels)
    geonames_marmara(wheels)
    natural_earth_coral_triangle(wheels)
    natural_earth_mekong(wheels)
    anmo_maule_record(wheels)


if __name__ == "__main__":
    main()
