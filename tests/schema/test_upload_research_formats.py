"""Sequences, seismic records, photographs and PDFs end to end (embedded mode: in-process
jobs, local object store): READY with their profiles, coverage and artifacts; a PDF's text
found by search; a bad file FAILED with its code while the next one is READY."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select
from strawberry.relay import from_base64

from server.core.config import Settings
from server.models import Artifact
from server.storage import store_from_settings
from tests.schema.test_upload_formats import FILES, STATE, put_bytes
from tests.schema.test_uploads import COMPLETE, draft_version

DATA = Path(__file__).parents[1] / "workers" / "data"
SEARCH = """query($q: String!) { search(query: $q) { edges { node {
    ... on Dataset { title } } } } }"""


async def test_research_files_become_profiles_and_artifacts(
    admin, factory, client, jobs, sessions, settings
):
    await research_files_end_to_end(admin, factory, client, jobs, sessions, settings)


async def research_files_end_to_end(admin, factory, client, jobs, sessions, settings) -> None:
    """A gzipped FASTQ, a miniSEED record, a photograph and a PDF: READY, profiled, their
    thumbnail and text artifacts stored, the PDF and the record found by search."""
    version = await draft_version(admin, factory)
    files = {
        "reads.fastq.gz": "fastq",
        "IU.ANMO.00.BHZ.mseed": "mseed",
        "tuscany.jpg": "jpeg",
        "crazyones.pdf": "pdf",
    }
    sources = {
        "reads.fastq.gz": "example.fastq.gz",
        "tuscany.jpg": "DSCN0010.jpg",
    }
    uploads = {}
    for name in files:
        body = (DATA / sources.get(name, name)).read_bytes()
        uploads[name] = await put_bytes(admin, client, version, name, body)
        assert (await admin(COMPLETE, {"u": uploads[name]}))["completeUpload"]["errors"] == []
    await jobs.drain()
    for name, kind in files.items():
        state = (await admin(STATE, {"u": uploads[name]}))["node"]
        assert (state["state"], state["detectedFormat"]) == ("READY", kind), (name, state)
    by_name = {f["name"]: f for f in (await admin(FILES, {"v": version}))["node"]["files"]["nodes"]}
    reads = by_name["reads.fastq.gz"]["profile"]
    assert (reads["records"], reads["quality"]["encoding"]) == (3, "phred+33")
    seismic = by_name["IU.ANMO.00.BHZ.mseed"]["profile"]
    assert seismic["channels"][0]["id"] == "IU.ANMO.00.BHZ"
    assert seismic["coverage"]["time_start"] == "2010-02-27T06:29:59.819538Z"
    photo = by_name["tuscany.jpg"]
    assert photo["profile"]["coverage"]["bbox"][1] > 43.4
    assert {"thumbnail", "profile"} <= {a["kind"] for a in photo["artifacts"]}
    pdf = by_name["crazyones.pdf"]
    assert {"text", "profile"} <= {a["kind"] for a in pdf["artifacts"]}
    found = (await admin(SEARCH, {"q": "troublemakers"}))["search"]["edges"]
    assert len(found) == 1 and found[0]["node"]["title"]
    by_station = (await admin(SEARCH, {"q": "ANMO"}))["search"]["edges"]  # a station code
    assert by_station == found
    thumbnail = await stored(sessions, settings, photo["id"], "thumbnail")
    assert thumbnail.startswith(b"\x89PNG\r\n\x1a\n")
    text = await stored(sessions, settings, pdf["id"], "text")
    assert "troublemakers" in text.decode()


async def stored(sessions, settings: Settings, file_id: str, kind: str) -> bytes:
    async with sessions() as session:
        artifact = await session.scalar(
            select(Artifact).where(
                Artifact.file_id == int(from_base64(file_id)[1]), Artifact.kind == kind
            )
        )
    assert artifact is not None, kind
    store = store_from_settings(settings)
    return await store.get_bytes(artifact.bucket, artifact.key)


async def test_a_lying_miniseed_fails_and_the_next_file_is_ready(admin, factory, client, jobs):
    version = await draft_version(admin, factory)
    body = bytearray((DATA / "IU.ANMO.00.BHZ.mseed").read_bytes())
    body[48 + 6] = 12  # blockette 1000: 4096-byte records in a 2048-byte file
    bad = await put_bytes(admin, client, version, "lie.mseed", bytes(body))
    good = await put_bytes(
        admin, client, version, "good.vcf", (DATA / "example_vcf42.vcf").read_bytes()
    )
    for upload in (bad, good):
        assert (await admin(COMPLETE, {"u": upload}))["completeUpload"]["errors"] == []
    await jobs.drain()
    failed = (await admin(STATE, {"u": bad}))["node"]
    assert (failed["state"], failed["errorCode"]) == ("FAILED", "MALFORMED_RECORD")
    ready = (await admin(STATE, {"u": good}))["node"]
    assert (ready["state"], ready["detectedFormat"]) == ("READY", "vcf")
