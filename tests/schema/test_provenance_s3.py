"""Provenance on a real S3 server (SeaweedFS): the copies beside the data after READY and
publication, and exports downloaded through signed URLs."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from strawberry.relay import from_base64

from server.core.config import Settings
from server.provenance import ExportFormat
from server.provenance.documents import parse_prov
from server.storage import store_from_settings
from tests.fixtures.seaweed import SeaweedS3
from tests.schema.test_uploads import COMPLETE, PUBLISH, START, draft_version

EXPORT = """query($v: ID!, $f: ProvenanceFormat!) {
  provenanceExport(versionId: $v, format: $f) { filename mediaType text url } }"""
DATASET = """query($v: ID!) { node(id: $v) { ... on DatasetVersion { dataset { id } } } }"""
BODY = b"station,level\nBKK-01,1.5\n"


@pytest.fixture
def settings(tmp_path: Path, seaweed: SeaweedS3) -> Settings:
    return seaweed.settings(tmp_path / "objects", database_url="sqlite+aiosqlite:///unused.db")


async def test_copies_in_the_bucket_and_signed_export_urls(admin, factory, jobs, settings):
    version = await draft_version(admin, factory)
    started = (await admin(START, {"v": version, "name": "levels.csv", "size": len(BODY)}))[
        "startUpload"
    ]
    async with httpx.AsyncClient(timeout=60) as s3:  # the first PUT may grow a volume
        put = await s3.put(started["instructions"]["putUrl"], content=BODY)
        assert put.status_code == 200
    assert (await admin(COMPLETE, {"u": started["upload"]["id"]}))["completeUpload"]["errors"] == []
    await jobs.drain()
    store = store_from_settings(settings)
    dataset = int(from_base64((await admin(DATASET, {"v": version}))["node"]["dataset"]["id"])[1])
    prefix = f"datasets/{dataset}/v1"
    crate = json.loads(
        await store.get_bytes(store.buckets.provenance, f"{prefix}/ro-crate-metadata.json")
    )
    assert [e["name"] for e in crate["@graph"] if e.get("@id") == "levels.csv"] == ["levels.csv"]
    assert (await admin(PUBLISH, {"v": version}))["publishDatasetVersion"]["errors"] == []
    await jobs.drain()
    document = parse_prov(
        (await store.get_bytes(store.buckets.provenance, f"{prefix}/prov.json")).decode(),
        ExportFormat.PROV_JSON,
    )
    assert any(
        str(r.identifier).startswith("satreps:publish-")
        for r in document.get_records()
        if r.identifier
    )

    for fmt, kind in (("PROV_TURTLE", ExportFormat.PROV_TURTLE), ("PROV_N", ExportFormat.PROV_N)):
        export = (await admin(EXPORT, {"v": version, "f": fmt}))["provenanceExport"]
        assert "X-Amz-Signature" in export["url"]
        async with httpx.AsyncClient() as http:
            fetched = await http.get(export["url"])
        assert fetched.status_code == 200 and fetched.text == export["text"]
        assert parse_prov(fetched.text, kind) == parse_prov(export["text"], kind)
    store.close()
