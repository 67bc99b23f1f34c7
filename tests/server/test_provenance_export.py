"""Exports of a version's provenance read back with the `prov` package into the same document;
the RO-Crate passes roc-validator at its REQUIRED level; fixity checks re-hash the raw objects
and record what they found; `satreps export` and `satreps fixity` as an operator runs them."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, select

from server.datasets.keywords import Keyword, PendingKeywords, write_keywords
from server.models import DatasetFile, DatasetVersion
from server.models.provenance import ProvEdge, ProvNode
from server.provenance import ExportFormat
from server.provenance.documents import parse_prov, prov_document
from server.provenance.export import bundle, export_version
from server.provenance.fixity import run_fixity_check
from server.provenance.lineage import SYSTEM, edges_among, register_derivation
from server.storage import store_from_settings
from tests.fixtures.provenance import (
    CSV,
    dataset_draft,
    process,
    publish,
    send,
    team,
    validate_crate,
    worker_ctx,
)

NS = "https://satreps-hub.example/prov/"
PROV_FORMATS = [f for f in ExportFormat if f != ExportFormat.RO_CRATE]


@pytest.fixture
async def store(settings) -> Any:
    store = store_from_settings(settings)
    await store.ensure_buckets()
    yield store
    store.close()


async def published_version(sessions, factory, settings, store) -> dict[str, Any]:
    """Field data (two files, one with a Japanese name) published, and an analysis version of
    another project's dataset derived from it."""
    field = await team(sessions, factory, ror="02kpeqv85", orcid="0000-0002-1825-0097")
    _, field_version = await dataset_draft(sessions, field, title="River levels")
    ctx = worker_ctx(sessions, store, settings)
    for name in ("levels.csv", "データ 2023.csv"):
        assert (
            await process(ctx, await send(sessions, store, field, field_version, name)) == "ready"
        )
    await publish(sessions, field, field_version)
    analysis = await team(sessions, factory)
    _, analysis_version = await dataset_draft(sessions, analysis, title="Flood model")
    assert await process(ctx, await send(sessions, store, analysis, analysis_version)) == "ready"
    async with sessions() as session:
        await register_derivation(
            session, analysis.principal, analysis_version, [field_version], "calibrated on it"
        )
        await session.commit()
    return {"field": field_version, "analysis": analysis_version, "team": analysis}


async def export(sessions, version_id: int, fmt: ExportFormat) -> str:
    async with sessions() as session:
        found = await export_version(
            session, SYSTEM, version_id, fmt, namespace=NS, raw_bucket="satreps-raw"
        )
    return found.text


@pytest.mark.parametrize("fmt", PROV_FORMATS, ids=[f.value for f in PROV_FORMATS])
async def test_prov_exports_parse_back_into_the_same_document(
    sessions, factory, settings, store, fmt
):
    made = await published_version(sessions, factory, settings, store)
    async with sessions() as session:
        expected = prov_document(await bundle(session, SYSTEM, made["analysis"]), NS)
    text = await export(sessions, made["analysis"], fmt)
    parsed = parse_prov(text, fmt)
    assert parsed == expected
    # the record reaches across datasets: the source version, its files and their uploaders
    names = {r.identifier.uri for r in parsed.get_records() if r.identifier is not None}
    assert f"{NS}version-{made['field']}" in names and f"{NS}publish-{made['field']}" in names
    assert "https://orcid.org/0000-0002-1825-0097" in names and "https://ror.org/02kpeqv85" in names
    assert len(names) > 20


async def test_a_bundle_reads_its_edges_once_by_subject(sessions, factory, settings, store, engine):
    """The edges among a version's nodes are read once, by subject (the unique index's first
    column), and are exactly those whose two ends are among the nodes; the walks read
    nodes only. A statement with both `IN` lists had SQLite probe its (object, subject)
    index once per pair of ids: 3-4 s of CPU a rewrite for a folder of 4,000 files."""
    made = await published_version(sessions, factory, settings, store)
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if "FROM prov_edges" in statement and "WITH RECURSIVE" not in statement:
            seen.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        async with sessions() as session:
            found = await bundle(session, SYSTEM, made["analysis"])
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", record)
    assert len(seen) == 1 and "prov_edges.subject_id IN" in seen[0]
    assert "object_id IN" not in seen[0]
    ids = {n.id for n in found.nodes}
    async with sessions() as session:
        every = (await session.scalars(select(ProvEdge).order_by(ProvEdge.id))).all()
    among = [e.id for e in every if e.subject_id in ids and e.object_id in ids]
    assert [e.id for e in found.edges] == among and len(among) > 10
    assert any((e.subject_id in ids) != (e.object_id in ids) for e in every)  # left out
    half = found.nodes[::2]  # edges from these to the other half are left out too
    kept = {n.id for n in half}
    async with sessions() as session:
        part = await edges_among(session, half)
    assert [e.id for e in part] == [
        e.id for e in every if e.subject_id in kept and e.object_id in kept
    ]
    assert any(e.subject_id in kept and e.object_id in ids - kept for e in every)


async def test_the_ro_crate_passes_roc_validator(sessions, factory, settings, store, tmp_path):
    made = await published_version(sessions, factory, settings, store)
    async with sessions() as session:  # the coverage its files gave (Fiji, across 180)
        version = await session.get(DatasetVersion, made["field"])
        assert version is not None
        version.west, version.south, version.east, version.north = 177.0, -19.2, -178.8, -16.0
        version.time_start = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
        # its keywords: the original (und) and a Japanese translation
        tagged = [Keyword("und", "hydrology", False, 0), Keyword("ja", "水文学", True, 1)]
        await write_keywords(session, version.dataset_id, PendingKeywords(tagged, ["hydrology"]))
        await session.commit()
    crate = json.loads(await export(sessions, made["field"], ExportFormat.RO_CRATE))
    graph = {e["@id"]: e for e in crate["@graph"]}
    root = graph["./"]
    assert root["keywords"] == ["hydrology", "水文学"]  # RO-Crate's keywords: plain text
    place = graph[root["spatialCoverage"]["@id"]]
    assert place["@type"] == "Place"
    assert graph[place["geo"]["@id"]] == {
        "@id": "#coverage-box",
        "@type": "GeoShape",
        "box": "-19.2 177.0 -16.0 -178.8",
    }
    assert root["temporalCoverage"] == "2024-01-01T00:00:00+00:00/.."
    assert root["license"] == {"@id": "https://spdx.org/licenses/CC-BY-4.0"}
    assert root["publisher"] == {"@id": "https://ror.org/02kpeqv85"}
    assert root["author"] == [{"@id": "https://orcid.org/0000-0002-1825-0097"}]
    parts = {p["@id"] for p in root["hasPart"]}
    async with sessions() as session:
        files = (
            await session.scalars(
                select(DatasetFile).where(DatasetFile.version_id == made["field"])
            )
        ).all()
    for file in files:
        entity = next(e for e in crate["@graph"] if e.get("name") == file.name)
        assert entity["@id"] in parts and entity["sha256"] == file.sha256
        assert entity["contentSize"] == str(file.size)
    actions = [e for e in crate["@graph"] if e.get("@type") == "CreateAction"]
    assert len(actions) == 2 and all(a["instrument"]["@id"] for a in actions)

    (tmp_path / "ok").mkdir()
    (tmp_path / "ok" / "ro-crate-metadata.json").write_text(json.dumps(crate))
    result = await asyncio.to_thread(validate_crate, tmp_path / "ok")
    assert result.passed(), [i.message for i in result.get_issues()]

    # the validator does check: a crate without its root dataset fails at REQUIRED
    broken = {**crate, "@graph": [e for e in crate["@graph"] if e["@id"] != "./"]}
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "ro-crate-metadata.json").write_text(json.dumps(broken))
    refused = await asyncio.to_thread(validate_crate, tmp_path / "bad")
    assert not refused.passed()

    analysis = json.loads(await export(sessions, made["analysis"], ExportFormat.RO_CRATE))
    based_on = next(e for e in analysis["@graph"] if e["@id"] == "./")["isBasedOn"]
    assert based_on == [{"@id": f"{NS}version-{made['field']}"}]


async def test_fixity_checks_record_ok_then_the_corruption(sessions, factory, settings, store):
    made = await published_version(sessions, factory, settings, store)
    version = made["field"]
    ok, _ = await run_fixity_check(sessions, store, version, "run1")
    assert ok.outcome == "ok" and set(ok.results.values()) == {"ok"} and len(ok.results) == 2
    async with sessions() as session:
        files = (
            await session.scalars(select(DatasetFile).where(DatasetFile.version_id == version))
        ).all()
    rotten = next(f for f in files if f.name == "levels.csv")
    path = Path(settings.object_dir) / store.buckets.raw / rotten.raw_key
    path.write_bytes(CSV.replace(b"1.52", b"1.53"))  # bit rot: same size, other bytes
    bad, _ = await run_fixity_check(sessions, store, version, "run2")
    assert bad.outcome == "mismatch" and bad.results["levels.csv"].startswith("sha256 ")
    assert bad.results["データ 2023.csv"] == "ok"
    path.unlink()
    gone, failures = await run_fixity_check(sessions, store, version, "run3")
    assert gone.outcome == "missing" and gone.results["levels.csv"] == "missing"
    assert [(f.name, f.outcome.value) for f in failures] == [("levels.csv", "missing")]
    # a job run twice with the same run id records one activity
    await run_fixity_check(sessions, store, version, "run3")
    async with sessions() as session:
        runs = {
            n.key: n.attributes
            for n in await session.scalars(select(ProvNode).where(ProvNode.type == "fixity_check"))
        }
    assert set(runs) == {f"fixity-{version}-run{i}" for i in (1, 2, 3)}
    assert runs[f"fixity-{version}-run1"]["outcome"] == "ok"
    assert runs[f"fixity-{version}-run2"]["failures"] == [
        f"levels.csv: {bad.results['levels.csv']}"
    ]
    assert runs[f"fixity-{version}-run3"]["outcome"] == "missing"
    # the version's record now shows the checks
    async with sessions() as session:
        found = await bundle(session, SYSTEM, version)
    assert {n.key for n in found.nodes if n.record_type == "fixity_check"} == set(runs)
