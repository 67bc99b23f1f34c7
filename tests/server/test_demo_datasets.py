"""The demo's datasets (issue 18 item 19): real, openly licensed files shipped with their
sources, loaded after the demo graph through the pipeline the workers run, published, and
read back through GraphQL as a user (and the dashboard) sees them."""

from __future__ import annotations

import hashlib
import tomllib
from collections.abc import AsyncIterator
from fnmatch import fnmatch
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection, async_sessionmaker

from server.core.config import Settings
from server.core.validation import normalize_licence
from server.demo.datasets import DATASETS, DemoDatasetFailed, seed_datasets
from server.demo.loader import INSTITUTION_BY_KEY, PROJECTS
from server.models import Dataset, DatasetFile, DatasetVersion, Upload
from server.models.enums import VersionState
from server.publishing.record import publishable_select
from server.storage import store_from_settings
from tests.conftest import GraphQLClient
from workers.demo import seed_demo_datasets

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "server" / "demo" / "data" / "datasets"
BY_FILE = {spec.file: spec for spec in DATASETS}


@pytest.fixture(scope="module")
def module_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return Settings(
        database_url="sqlite+aiosqlite:///unused.db",
        object_dir=tmp_path_factory.mktemp("demo-datasets") / "objects",
        prov_copy_window_seconds=0.05,
    )


@pytest.fixture
def settings(module_settings: Settings) -> Settings:
    """The app of `gql` reads the objects the module's seeding wrote."""
    return module_settings


@pytest.fixture(scope="module")
async def demo_datasets(
    demo: dict[str, int], module_connection: AsyncConnection, module_settings: Settings
) -> dict[str, int]:
    sessions = async_sessionmaker(
        bind=module_connection, expire_on_commit=False, join_transaction_mode="create_savepoint"
    )
    store = store_from_settings(module_settings)
    return await seed_demo_datasets(module_settings, sessions, store)


@pytest.fixture
async def connection(
    module_connection: AsyncConnection, demo_datasets: dict[str, int]
) -> AsyncIterator[AsyncConnection]:
    savepoint = await module_connection.begin_nested()
    yield module_connection
    if savepoint.is_active:
        await savepoint.rollback()


# ---- the files, without a database -----------------------------------------------------


def test_every_shipped_file_is_in_the_manifest_with_its_checksum_and_source() -> None:
    shipped = {p.name for p in DATA.iterdir()} - {"manifest.json", "SOURCES.md"}
    assert shipped == set(BY_FILE)
    formats = "csv tsv json geojson parquet fgb mseed tif nc jpg pdf fasta"
    assert set(formats.split()) == {name.rsplit(".", 1)[1] for name in shipped}
    sources = (DATA / "SOURCES.md").read_text()
    for spec in DATASETS:
        raw = (DATA / spec.file).read_bytes()
        assert (len(raw), hashlib.sha256(raw).hexdigest()) == (spec.size, spec.sha256)
        assert spec.data() == raw
        assert f"`{spec.file}`" in sources
        assert normalize_licence(spec.licence) == spec.licence
        assert {"origin", "url", "shipped_in", "licence", "derivation"} <= set(spec.source)
        assert spec.size < 64 * 1024  # small: the repository carries them


def test_each_dataset_belongs_to_a_demo_project_its_owner_takes_part_in() -> None:
    projects = {p.acronym: p for p in PROJECTS}
    for spec in DATASETS:
        project = projects[spec.project]
        assert spec.owner in (*project.japanese, *project.partners)
        assert spec.owner in INSTITUTION_BY_KEY


def test_the_files_ship_in_the_package() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = pyproject["tool"]["setuptools"]["package-data"]["server"]
    for name in [*BY_FILE, "manifest.json", "SOURCES.md"]:
        assert any(fnmatch(f"demo/data/datasets/{name}", p) for p in patterns), name


# ---- loaded ----------------------------------------------------------------------------

DATASETS_QUERY = """{ datasets(first: 50) { totalCount nodes {
  title licence accessLevel keywords project { acronym } ownerInstitution { nameEn }
  latestVersion { id number state note publishedAt
    uploads { state filename sha256 detectedFormat errorCode }
    files { nodes { id name size sha256 format mediaType profile preview artifacts { kind } } } } } } }"""

PROVENANCE = """query($v: ID!, $d: LineageDirection!) {
  provenance(id: $v, direction: $d) { nodes { id type } } }"""
DOWNLOAD = """query($f: ID!) { node(id: $f) { ... on DatasetFile { downloadUrl { url } } } }"""
STATS = """{ themeStats { totals { datasets uploadsReady } } datasetStats { total } }"""


async def test_the_seeded_datasets_are_published_and_processed(
    gql: GraphQLClient, demo_datasets: dict[str, int]
) -> None:
    assert demo_datasets == {"datasets": len(DATASETS), "datasets_present": 0}
    found = (await gql(DATASETS_QUERY))["datasets"]  # anonymous: they are public
    assert found["totalCount"] == len(DATASETS)
    for dataset in found["nodes"]:
        version = dataset["latestVersion"]
        (file,) = version["files"]["nodes"]
        spec = BY_FILE[file["name"]]
        assert dataset["title"] == spec.title and dataset["licence"] == spec.licence
        assert dataset["accessLevel"] == "PUBLIC"
        assert dataset["project"]["acronym"] == spec.project
        assert dataset["ownerInstitution"]["nameEn"] == INSTITUTION_BY_KEY[spec.owner].name_en
        assert (version["number"], version["state"]) == (1, "PUBLISHED")
        assert version["note"] and version["publishedAt"]
        assert version["uploads"] == [
            {
                "state": "READY",
                "filename": spec.file,
                "sha256": spec.sha256,
                "detectedFormat": file["format"],
                "errorCode": None,
            }
        ]
        assert (file["size"], file["sha256"]) == (spec.size, spec.sha256)
        extension = spec.file.rsplit(".", 1)[1]
        assert file["format"] == FORMATS.get(extension, extension)
        if extension in RESEARCH:  # profiled by its own reader (issue 19)
            RESEARCH[extension](file)
            continue
        assert file["profile"]["rows"] > 0 and file["profile"]["columns"]
        assert file["preview"]
        tables = {"parquet", "preview", "profile"}
        if file["format"] == "geojson":  # a table and a vector layer, with its GeoParquet
            tables.add("geoparquet")
            assert file["profile"]["layers"][0]["features"] == file["profile"]["rows"]
        assert {a["kind"] for a in file["artifacts"]} == tables


# the detected format, where not the suffix
FORMATS = {"fgb": "flatgeobuf", "mseed": "mseed", "tif": "tiff", "nc": "netcdf", "jpg": "jpeg"}


def _vector(file: dict[str, Any]) -> None:
    (layer,) = file["profile"]["layers"]
    assert layer["name"] == "mekong_countries" and layer["features"] == 5, layer
    west, south, east, north = file["profile"]["coverage"]["bbox"]
    assert 92 < west < 93 and 5 < south < 6 and 109 < east < 110 and 28 < north < 29.5
    assert file["preview"]
    assert {a["kind"] for a in file["artifacts"]} == {"parquet", "preview", "profile"}


def _seismic(file: dict[str, Any]) -> None:
    (channel,) = file["profile"]["channels"]
    assert (channel["id"], channel["sampling_rates"], channel["samples"]) == (
        "IU.ANMO.00.BHZ",
        [20.0],
        1208,
    )
    coverage = file["profile"]["coverage"]  # the record's minute on 2010-02-27
    assert coverage["time_start"].startswith("2010-02-27T06:29:59")
    assert coverage["time_end"].startswith("2010-02-27T06:31:00")
    assert {a["kind"] for a in file["artifacts"]} == {"profile"}


SRTM3 = 1 / 1200  # degrees


def _raster(file: dict[str, Any]) -> None:
    """The COG: 192 x 192 SRTM cells, WGS 84, tiled, with its overview, the true box."""
    profile = file["profile"]
    assert (profile["kind"], profile["driver"]) == ("raster", "GTiff")
    assert (profile["width"], profile["height"], profile["count"]) == (192, 192, 1)
    assert profile["crs"]["epsg"] == 4326
    assert profile["resolution"] == pytest.approx([SRTM3, SRTM3])
    assert (profile["tiled"], profile["overviews"], profile["compression"]) == (
        True,
        [2],
        "deflate",
    )
    (band,) = profile["bands"]
    assert (band["dtype"], band["units"], band["nodata"]) == ("int16", "m", None)
    stats = band["statistics"]  # metres: valleys to ridge tops, every cell counted
    assert 250 < stats["min"] < stats["max"] < 1100 and not stats["sampled"]
    assert stats["valid_pixels"] == 192 * 192
    box = [-84.29375, 36.5329167, -84.13375, 36.6929167]  # west, south, east, north
    assert profile["coverage"]["bbox"] == pytest.approx(box, abs=1e-6)
    assert profile["coverage"]["time_start"] is None
    assert "quicklook" in {a["kind"] for a in file["artifacts"]}


def _gridded(file: dict[str, Any]) -> None:
    """The NetCDF-4: CF-1.8, 114 x 134 cells of 9 arc-seconds, elevation on a WGS 84 grid
    mapping, its box from the cell centres."""
    profile = file["profile"]
    assert (profile["kind"], profile["format"], profile["conventions"]) == (
        "gridded",
        "NETCDF4",
        "CF-1.8",
    )
    sizes = {d["name"]: d["size"] for d in profile["dimensions"]}
    assert sizes == {"lat": 114, "lon": 134, "bnds": 2}
    variables = {v["name"]: v for v in profile["variables"]}
    assert set(variables) == {"lat", "lat_bnds", "lon", "lon_bnds", "crs", "elevation"}
    elevation = variables["elevation"]
    assert (elevation["dimensions"], elevation["units"], elevation["standard_name"]) == (
        ["lat", "lon"],
        "m",
        "surface_altitude",
    )
    assert elevation["attributes"]["grid_mapping"] == "crs"
    crs = variables["crs"]["attributes"]
    assert crs["grid_mapping_name"] == "latitude_longitude"
    assert (crs["semi_major_axis"], crs["inverse_flattening"]) == (6378137.0, 298.257223563)
    assert 'AUTHORITY["EPSG","4326"]' in crs["crs_wkt"]
    half = 1.5 * SRTM3  # the box of the cells' centres
    west, north = -84.41375, 36.7329167  # the source grid's edges
    box = [west + half, north - 114 * 3 * SRTM3 + half, west + 134 * 3 * SRTM3 - half, north - half]
    assert profile["coverage"]["bbox"] == pytest.approx(box, abs=1e-6)
    assert profile["warnings"] == []  # every data variable has its units


def _image(file: dict[str, Any]) -> None:
    """The photograph: a 512 x 600 RGB JPEG without EXIF (no camera, time or place), and its
    thumbnail."""
    profile = file["profile"]
    assert (profile["kind"], profile["format"], profile["mode"]) == ("image", "JPEG", "RGB")
    assert (profile["width"], profile["height"], profile["frames"]) == (512, 600, 1)
    assert (profile["orientation"], profile["taken"], profile["camera"], profile["gps"]) == (
        None,
        None,
        None,
        None,
    )
    assert profile["coverage"] == {"bbox": None, "time_start": None, "time_end": None}
    assert file["mediaType"] == "image/jpeg"
    assert {a["kind"] for a in file["artifacts"]} == {"profile", "thumbnail"}


REPORT_TITLE = (
    "DHAKA-AIR monitoring summary: Urban Air Pollution Monitoring and Health Impact "
    "Assessment in Dhaka"
)


def _document(file: dict[str, Any]) -> None:
    """The monitoring report: two pages, its title and author, its text extracted."""
    profile = file["profile"]
    assert (profile["kind"], profile["format"], profile["pages"]) == ("document", "PDF", 2)
    assert profile["title"] == REPORT_TITLE
    assert profile["author"] == "satreps-hub demo (fictional project data)"
    assert profile["producer"].startswith("Matplotlib pdf backend")
    assert (profile["encrypted"], profile["text_pages"], profile["created"]) == (False, 2, None)
    text = profile["search_text"]
    assert text.startswith("DHAKA-AIR: monitoring summary")
    assert "are fictional" in text and "Stakeholder workshops held" in text
    assert file["mediaType"] == "application/pdf"
    assert {a["kind"] for a in file["artifacts"]} == {"profile", "text"}


def _sequences(file: dict[str, Any]) -> None:
    """The FASTA: 15 ITS records of 711-770 bases, no unknown bases, no qualities."""
    profile = file["profile"]
    assert (profile["kind"], profile["format"], profile["compression"]) == (
        "sequences",
        "fasta",
        None,
    )
    assert (profile["records"], profile["total_bases"], profile["n_bases"]) == (15, 11168, 0)
    assert (profile["length"]["min"], profile["length"]["max"]) == (711, 770)
    assert 0.5 < profile["gc_content"] < 0.6 and profile["quality"] is None
    assert profile["coverage"] == {"bbox": None, "time_start": None, "time_end": None}
    assert {a["kind"] for a in file["artifacts"]} == {"profile"}


RESEARCH = {
    "fasta": _sequences,
    "fgb": _vector,
    "mseed": _seismic,
    "tif": _raster,
    "nc": _gridded,
    "jpg": _image,
    "pdf": _document,
}

SEARCH = """query($q: String!) { search(query: $q, types: [DATASET]) {
  totalCount edges { node { ... on Dataset { title } } } } }"""


async def test_the_report_is_found_by_the_words_of_its_text(gql: GraphQLClient) -> None:
    """The PDF's text goes into its dataset's search document (profile `search_text`): words
    only in the report's pages, not in its dataset's title, description or keywords."""
    (spec,) = [s for s in DATASETS if s.file.endswith(".pdf")]
    words = "stakeholder workshops guidelines"
    assert not any(
        w in f"{spec.title} {spec.description} {spec.keywords}".lower() for w in words.split()
    )
    found = (await gql(SEARCH, {"q": words}))["search"]
    assert found["totalCount"] == 1
    assert [e["node"]["title"] for e in found["edges"]] == [spec.title]


async def test_each_version_has_its_provenance_and_its_bytes_are_the_shipped_file(
    gql: GraphQLClient, client
) -> None:
    for dataset in (await gql(DATASETS_QUERY))["datasets"]["nodes"]:
        version = dataset["latestVersion"]
        up = (await gql(PROVENANCE, {"v": version["id"], "d": "UPSTREAM"}))["provenance"]
        assert {"dataset_version", "raw_upload", "upload", "publish"} <= {
            n["type"] for n in up["nodes"]
        }
        (raw,) = [n["id"] for n in up["nodes"] if n["type"] == "raw_upload"]
        down = (await gql(PROVENANCE, {"v": raw, "d": "DOWNSTREAM"}))["provenance"]
        assert {"ingest", "artifact"} <= {n["type"] for n in down["nodes"]}
        file = version["files"]["nodes"][0]
        url = (await gql(DOWNLOAD, {"f": file["id"]}))["node"]["downloadUrl"]["url"]
        body = (await client.get(url)).content
        assert hashlib.sha256(body).hexdigest() == BY_FILE[file["name"]].sha256


async def test_the_dashboard_figures_count_them(gql: GraphQLClient) -> None:
    data = await gql(STATS)
    assert data["datasetStats"]["total"] == len(DATASETS)
    assert data["themeStats"]["totals"] == {
        "datasets": len(DATASETS),
        "uploadsReady": len(DATASETS),
    }


async def test_seeding_again_adds_nothing(sessions, settings: Settings) -> None:
    again = await seed_demo_datasets(settings, sessions, store_from_settings(settings))
    assert again == {"datasets": 0, "datasets_present": len(DATASETS)}
    async with sessions() as session:
        for model in (Dataset, DatasetFile, Upload):
            count = await session.scalar(select(func.count()).select_from(model))
            assert count == len(DATASETS), model


async def test_a_seeding_cut_off_before_publication_is_taken_up(
    sessions, settings: Settings
) -> None:
    spec = DATASETS[0]
    async with sessions() as session:
        version = await session.scalar(
            select(DatasetVersion)
            .join(Dataset, Dataset.id == DatasetVersion.dataset_id)
            .where(Dataset.title == spec.title)
        )
        assert version is not None and version.state == VersionState.PUBLISHED
        version.state, version.published_at = VersionState.DRAFT, None  # as if cut off
        await session.commit()
    again = await seed_demo_datasets(settings, sessions, store_from_settings(settings))
    assert again == {"datasets": 1, "datasets_present": len(DATASETS) - 1}
    async with sessions() as session:
        state = await session.scalar(
            select(DatasetVersion.state).where(DatasetVersion.id == version.id)
        )
        assert state == VersionState.PUBLISHED
        assert await session.scalar(select(func.count()).select_from(Dataset)) == len(DATASETS)


async def test_without_the_demo_graph_it_says_so(tmp_path: Path) -> None:
    from server.core.db import make_engine, session_factory
    from server.migrations import upgrade

    url = f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}"
    upgrade(url)
    engine = make_engine(url)
    settings = Settings(database_url=url, object_dir=tmp_path / "objects")

    async def never(*_: object) -> None:
        raise AssertionError("no job runs without the graph")

    try:
        with pytest.raises(DemoDatasetFailed, match="load the demo graph first"):
            await seed_datasets(session_factory(engine), store_from_settings(settings), never)
    finally:
        await engine.dispose()


async def test_a_harvester_a_browser_and_a_citation_manager_find_the_demo_data(
    client: Any, sessions: Any, demo_datasets: dict[str, int]
) -> None:
    """Issue 21's closing check on the seeded demo: a harvester lists every public demo
    version over OAI-PMH; a browser opens each one's landing page (HTML with its schema.org
    JSON-LD); a citation manager takes its BibTeX and RIS and reads the same title back."""
    import json
    import re
    import xml.etree.ElementTree as ET

    import bibtexparser
    import rispy

    oai, dc = "{http://www.openarchives.org/OAI/2.0/}", "{http://purl.org/dc/elements/1.1/}"
    found: dict[str, str] = {}  # landing page -> title
    params: dict[str, str] = {"verb": "ListRecords", "metadataPrefix": "oai_dc"}
    while True:
        root = ET.fromstring((await client.get("/oai", params=params)).text)
        assert root.find(f"{oai}error") is None, ET.tostring(root)
        for record in root.iter(f"{oai}record"):
            urls = [i.text or "" for i in record.iter(f"{dc}identifier")]
            pages = [u for u in urls if "/datasets/" in u and "/versions/" in u]
            found[pages[0]] = record.findtext(f".//{dc}title") or ""
        token = root.findtext(f".//{oai}resumptionToken")
        if not token:
            break
        params = {"verb": "ListRecords", "resumptionToken": token}
    async with sessions() as session:
        query = select(func.count()).select_from(publishable_select().subquery())
        public = await session.scalar(query)
    assert public and len(found) == public  # every public demo version, once

    for page, title in found.items():
        html = await client.get(page, headers={"Accept": "text/html"})
        assert html.status_code == 200 and html.headers["content-type"].startswith("text/html")
        script = re.search(r'<script type="application/ld\+json">(.*?)</script>', html.text, re.S)
        assert script is not None
        assert json.loads(script.group(1))["@type"] == "Dataset"
        bib = await client.get(page, headers={"Accept": "application/x-bibtex"})
        entry = bibtexparser.parse_string(bib.text).entries[0]
        assert entry.fields_dict["title"].value.strip("{}") == title
        ris = await client.get(page, headers={"Accept": "application/x-research-info-systems"})
        (reference,) = rispy.loads(ris.text)
        assert reference["type_of_reference"] == "DATA" and reference["title"] == title
