"""Rebuild server/demo/data/datasets/ from the wheels that ship the source data (and the
monitoring report's PDF from the demo graph itself).

    pip download --no-deps bokeh-sampledata==2026.1 pyogrio==0.13.0 obspy==1.5.1 \
        matplotlib==3.11.2 -d WHEELS
    (cd WHEELS && apt-get download python-biopython-doc=1.80+dfsg-4)  # Debian 12's
    pip install --no-deps --target PYOGRIO WHEELS/pyogrio-0.13.0-*.whl
    PYTHONPATH=PYOGRIO python scripts/demo_datasets.py WHEELS

Each file is a small extract; SOURCES.md beside the files says where each came from, under
which licence, and how it was cut. The script is deterministic: run twice, same bytes. The
gridded files' bytes also depend on their writers, the project's own environment: the
GeoTIFF was written with rasterio 1.5.2 (GDAL 3.12.2), the NetCDF-4 with netCDF4
1.7.5.1.post1 (netcdf-c 4.10.1, HDF5 2.2.0), the monitoring report's PDF with matplotlib
3.11.2's PDF backend (its DejaVu fonts), from the demo graph's own plan (server.demo).
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
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

OUT = Path(__file__).resolve().parents[1] / "server" / "demo" / "data" / "datasets"
MEKONG = ("Cambodia", "Lao People's Democratic Republic", "Thailand", "Viet Nam")
CORAL_TRIANGLE = ("IDN", "PHL", "MYS", "PNG", "TLS", "SLB")
MEKONG_ISO = ("KHM", "LAO", "MMR", "THA", "VNM")  # the Mekong's lower basin and Myanmar
MARMARA = (40.0, 41.6, 26.5, 30.5)  # lat min, lat max, lon min, lon max
SRTM3 = 1 / 1200  # degrees: SRTM's 3 arc-second cells
JACKSBORO_NPZ = "matplotlib/mpl-data/sample_data/jacksboro_fault_dem.npz"
# the COG's rows and columns: the DEM's middle, where its hillshade shows a north-west
# trending fault valley crossing a north-east trending ridge
FAULT_WINDOW = (48, 240, 144, 336)
HOPPER_JPG = "matplotlib/mpl-data/sample_data/grace_hopper.jpg"
REPORT_PROJECT = "DHAKA-AIR"  # the demo project whose monitoring summary is the PDF
ORCHID_FASTA = "./usr/share/doc/python-biopython-doc/Doc/examples/ls_orchid.fasta.gz"
ORCHID_GENBANK = "./usr/share/doc/python-biopython-doc/Doc/examples/ls_orchid.gbk.gz"


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


def _jacksboro(wheels: Path) -> tuple[Any, float, float]:
    """The SRTM DEM matplotlib ships: elevations (row 0 north), west and north edges.

    Its `xmin`/`xmax` are the grid's west and east edges and `ymin`/`ymax` its north and
    south edges (the names are matplotlib's), 3 arc-seconds apart: 403 x 1/1200 degrees
    from west to east, 344 from north to south."""
    import numpy as np

    with np.load(io.BytesIO(_member(wheels, "matplotlib-3.11.2-*.whl", JACKSBORO_NPZ))) as dem:
        z, west, north = dem["elevation"], float(dem["xmin"]), float(dem["ymin"])
        assert float(dem["dx"]) == float(dem["dy"]) == SRTM3
        assert round((float(dem["xmax"]) - west) / SRTM3) == z.shape[1]
        assert round((north - float(dem["ymax"])) / SRTM3) == z.shape[0]
    return z, west, north


def srtm_jacksboro_cog(wheels: Path) -> None:
    """SRTM 3 arc-second elevations around the Jacksboro Fault (Tennessee and Kentucky), as
    a Cloud-Optimised GeoTIFF: 192 x 192 cells of the DEM unchanged, WGS 84, 128 x 128 tiles,
    one overview (averaged), DEFLATE with a horizontal predictor."""
    import numpy as np
    import rasterio
    import rasterio.shutil
    from rasterio.io import MemoryFile
    from rasterio.transform import from_origin

    z, west, north = _jacksboro(wheels)
    r0, r1, c0, c1 = FAULT_WINDOW
    window = np.ascontiguousarray(z[r0:r1, c0:c1])
    transform = from_origin(west + c0 * SRTM3, north - r0 * SRTM3, SRTM3, SRTM3)
    target = OUT / "srtm-jacksboro-fault.tif"
    target.unlink(missing_ok=True)
    profile = {"driver": "GTiff", "dtype": "int16", "count": 1, "crs": "EPSG:4326"}
    with MemoryFile() as memory:
        with memory.open(
            **profile, width=window.shape[1], height=window.shape[0], transform=transform
        ) as src:
            src.write(window, 1)
            src.set_band_description(1, "elevation above the EGM96 geoid")
            src.set_band_unit(1, "m")
            src.update_tags(
                TIFFTAG_IMAGEDESCRIPTION="SRTM 3 arc-second elevations (NASA/NGA) around "
                "the Jacksboro Fault, as matplotlib 3.11.2 ships them "
                "(sample_data/jacksboro_fault_dem.npz)",
                TIFFTAG_COPYRIGHT="public domain",
            )
            rasterio.shutil.copy(
                src,
                str(target),
                driver="COG",
                COMPRESS="DEFLATE",
                PREDICTOR=2,
                LEVEL=9,
                BLOCKSIZE=128,
                OVERVIEW_RESAMPLING="AVERAGE",
            )


def srtm_jacksboro_netcdf(wheels: Path) -> None:
    """The whole SRTM DEM matplotlib ships, each 3 x 3 block of cells averaged (9 arc-second
    cells, rounded to the metre), as CF-1.8 NetCDF-4: latitude south to north, longitude,
    their cell bounds, a WGS 84 grid mapping with the EGM96 geoid, zlib-compressed."""
    import netCDF4
    import numpy as np
    from rasterio.crs import CRS

    z, west, north = _jacksboro(wheels)
    rows, cols = z.shape[0] // 3, z.shape[1] // 3
    blocks = z[: rows * 3, : cols * 3].astype("float64").reshape(rows, 3, cols, 3)
    mean = np.rint(blocks.mean(axis=(1, 3)))[::-1].astype("int16")  # south to north
    step = 3 * SRTM3
    south = north - rows * step
    lat_edges = south + step * np.arange(rows + 1)
    lon_edges = west + step * np.arange(cols + 1)
    target = OUT / "srtm-jacksboro-9arcsec.nc"
    target.unlink(missing_ok=True)
    with netCDF4.Dataset(target, "w", format="NETCDF4") as ds:
        ds.setncatts(
            {
                "Conventions": "CF-1.8",
                "title": "Terrain around the Jacksboro Fault at 9 arc-seconds (SRTM)",
                "institution": "NASA and NGA (Shuttle Radar Topography Mission)",
                "source": "SRTM 3 arc-second elevations, as matplotlib 3.11.2 ships them "
                "(mpl-data/sample_data/jacksboro_fault_dem.npz)",
                "history": "each 3 x 3 block of 3 arc-second cells averaged and rounded to the "
                "metre, rows ordered south to north, by scripts/demo_datasets.py (satreps-hub)",
                "references": "https://www.earthdata.nasa.gov/data/instruments/srtm",
                "license": "public domain",
            }
        )
        ds.createDimension("lat", rows)
        ds.createDimension("lon", cols)
        ds.createDimension("bnds", 2)
        for name, edges, axis, units in (
            ("lat", lat_edges, "Y", "degrees_north"),
            ("lon", lon_edges, "X", "degrees_east"),
        ):
            coord = ds.createVariable(name, "f8", (name,))
            coord.setncatts(
                {
                    "standard_name": "latitude" if axis == "Y" else "longitude",
                    "long_name": "latitude" if axis == "Y" else "longitude",
                    "units": units,
                    "axis": axis,
                    "bounds": f"{name}_bnds",
                }
            )
            coord[:] = (edges[:-1] + edges[1:]) / 2
            bounds = ds.createVariable(f"{name}_bnds", "f8", (name, "bnds"))
            bounds[:] = np.stack([edges[:-1], edges[1:]], axis=1)
        crs = ds.createVariable("crs", "i4")
        crs.setncatts(
            {
                "grid_mapping_name": "latitude_longitude",
                "semi_major_axis": 6378137.0,
                "inverse_flattening": 298.257223563,
                "longitude_of_prime_meridian": 0.0,
                "geoid_name": "EGM96",
                "crs_wkt": CRS.from_epsg(4326).to_wkt(),  # as GDAL writes it in the GeoTIFF
            }
        )
        elevation = ds.createVariable(
            "elevation", "i2", ("lat", "lon"), zlib=True, complevel=9, shuffle=True
        )
        elevation.setncatts(
            {
                "standard_name": "surface_altitude",
                "long_name": "mean elevation of the cell above the EGM96 geoid",
                "units": "m",
                "grid_mapping": "crs",
                "cell_methods": "area: mean",
            }
        )
        elevation[:] = mean


def grace_hopper_portrait(wheels: Path) -> None:
    """The official US Navy portrait of Commodore Grace M. Hopper (1984) that matplotlib ships
    as sample data, copied unchanged (a 512 x 600 JPEG)."""
    data = _member(wheels, "matplotlib-3.11.2-*.whl", HOPPER_JPG)
    (OUT / "grace-hopper-usn-portrait-1984.jpg").write_bytes(data)


def monitoring_report() -> None:
    """A monitoring summary of the demo project REPORT_PROJECT as a PDF, from the demo graph's
    own plan (fictional, as the whole demo graph is): its title, its phases, its PDM
    indicators with their measurements as a chart. matplotlib's PDF backend writes it with
    Title, Author, Subject and Keywords set and no creation date, so the bytes repeat."""
    import matplotlib

    matplotlib.use("pdf")
    import matplotlib.pyplot as plt
    from matplotlib.backends.backend_pdf import PdfPages

    sys.path.insert(0, str(OUT.parents[3]))
    from server.demo.generate import plan_demo

    draft = next(d for d in plan_demo() if d.acronym == REPORT_PROJECT)
    assert draft.cooperation is not None and draft.start_date and draft.end_date
    goal, purpose = draft.cooperation.pdm
    levels = [("Overall goal", goal), ("Project purpose", purpose)]
    levels += [(f"Output {o.position}", o) for o in purpose.children]
    indicators = [(name, i) for name, element in levels for i in element.indicators]
    reports = draft.cooperation.reports
    title = f"{REPORT_PROJECT} monitoring summary: {draft.title}"
    matplotlib.rcParams.update({"pdf.fonttype": 42, "font.size": 8})  # TrueType: text is found
    target = OUT / "dhaka-air-monitoring-summary.pdf"
    metadata = {
        "Title": title,
        "Author": "satreps-hub demo (fictional project data)",
        "Subject": "Indicator measurements of the Project Design Matrix, baseline to "
        f"{reports[-1].period_end.isoformat()}",
        "Keywords": f"{REPORT_PROJECT}, monitoring, PDM indicators, air quality, demo data",
        "Creator": "scripts/demo_datasets.py (satreps-hub)",
        "CreationDate": None,
    }
    with PdfPages(target, metadata=metadata) as pdf:
        page = plt.figure(figsize=(8.27, 11.69))
        text = [
            f"{REPORT_PROJECT}: monitoring summary",
            draft.title,
            "",
            "Demo data: the project, its people, its history and every figure in this report",
            "are fictional (satreps-hub's demo graph); the report is generated from that graph.",
            "",
            f"Research period: {draft.start_date.isoformat()} to {draft.end_date.isoformat()}"
            f" (phase: {draft.phase.value})",
            f"Monitoring reports so far: {len(reports)}, the latest {reports[-1].document_ref}"
            f" for {reports[-1].period_start.isoformat()} to {reports[-1].period_end.isoformat()}",
            "",
            "Phases",
        ]
        text += [
            f"  {s.at.date().isoformat()}  {s.to_phase.value}: {s.note}" for s in draft.history
        ]
        text += ["", "Indicators (baseline, target, latest measurement)"]
        for name, ind in indicators:
            day, value, _ = ind.measurements[-1]
            text.append(
                f"  {name}: {ind.description} ({ind.unit}): {ind.baseline} -> {ind.target},"
                f" {value} on {day.isoformat()}"
            )
        headings = {0, text.index("Phases"), len(text) - len(indicators) - 1}
        for n, line in enumerate(text):
            bold = "bold" if n in headings else "normal"
            size = 11 if n == 0 else 7.5
            page.text(0.06, 0.96 - n * 0.018, line, fontsize=size, fontweight=bold, va="top")
        pdf.savefig(page)
        plt.close(page)
        chart, axes = plt.subplots(2, 1, figsize=(8.27, 11.69))
        for ax, percent in zip(axes, (True, False), strict=True):
            for name, ind in indicators:
                if (ind.unit == "%") != percent:
                    continue
                days = [m[0] for m in ind.measurements]
                values = [float(m[1]) for m in ind.measurements]
                label = f"{name}: {ind.description} ({ind.unit}, target {ind.target})"
                ax.plot(days, values, marker="o", label=label)
            ax.set_ylabel("%" if percent else "count")
            ax.set_title(
                "Indicators in per cent" if percent else "Indicators as counts",
                loc="left",
            )
            ax.grid(True, alpha=0.3)
            ax.legend(loc="upper left", fontsize=6.5)
        chart.suptitle(f"{REPORT_PROJECT}: indicator measurements, baseline survey then yearly")
        pdf.savefig(chart)
        plt.close(chart)


def _deb_member(debs: Path, pattern: str, name: str) -> bytes:
    """A file of a Debian package (an ar archive holding data.tar.xz)."""
    import tarfile

    raw = next(debs.glob(pattern)).read_bytes()
    assert raw.startswith(b"!<arch>\n")
    at = 8
    while at < len(raw):
        header = raw[at : at + 60]
        member, size = header[:16].decode().strip().rstrip("/"), int(header[48:58])
        body = raw[at + 60 : at + 60 + size]
        if member == "data.tar.xz":
            with tarfile.open(fileobj=io.BytesIO(body), mode="r:xz") as tar:
                found = tar.extractfile(name)
                assert found is not None
                return found.read()
        at += 60 + size + size % 2
    raise LookupError(f"no data.tar.xz in {pattern}")


def phragmipedium_its(debs: Path) -> None:
    """The Phragmipedium records of Biopython's ls_orchid.fasta (ITS1, 5.8S and ITS2 of the
    slipper orchids, EMBL Z78439-Z78533), as Debian's python-biopython-doc ships it: the
    records whose GenBank entry (ls_orchid.gbk beside it) names the genus, copied unchanged."""
    pkg = "python-biopython-doc_1.80+dfsg-4_all.deb"
    genbank = gzip.decompress(_deb_member(debs, pkg, ORCHID_GENBANK)).decode()
    wanted = set()
    for entry in genbank.split("\n//"):
        fields = dict(
            (line[:12].strip(), line[12:].strip())
            for line in entry.strip().splitlines()
            if line[:12].strip() in ("ACCESSION", "ORGANISM")
        )
        if fields.get("ORGANISM", "").startswith("Phragmipedium "):
            wanted.add(fields["ACCESSION"])
    fasta = gzip.decompress(_deb_member(debs, pkg, ORCHID_FASTA)).decode()
    records = [">" + r for r in fasta.split(">")[1:]]
    kept = [r for r in records if r.split("|")[3].split(".")[0] in wanted]
    assert len(kept) == len(wanted) == 15
    (OUT / "phragmipedium-its.fasta").write_text("".join(kept), encoding="ascii")


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
    srtm_jacksboro_cog(wheels)
    srtm_jacksboro_netcdf(wheels)
    grace_hopper_portrait(wheels)
    monitoring_report()
    phragmipedium_its(wheels)


if __name__ == "__main__":
    main()
