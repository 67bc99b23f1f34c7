"""OAI-PMH 2.0 at /oai (server/publishing/oai.py): each verb, from/until in both
granularities, sets, resumption tokens (signed, expiring), deleted records, every error the
protocol names, characters XML cannot carry. Every response is validated against the
official OAI-PMH 2.0 schema, oai_dc metadata against oai_dc.xsd (tests/fixtures/oai.py).
Harvests by a client library against a served app: tests/server/test_oai_harvest.py."""

from __future__ import annotations

import datetime as dt
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import update

from server.core.url_signing import UrlSigner
from server.http.oai import repository
from server.models import Dataset, PublicRecord, Theme
from server.models.enums import InstitutionRole
from server.publishing.oai import decode_token, encode_token, respond
from tests.fixtures.oai import DC, OAI, START, bulk_published, validate

PAGE = 3
THEME = 5  # a theme the migrations create


@pytest.fixture
def settings(settings):
    return settings.model_copy(update={"oai_page_size": PAGE, "oai_repository_name": "Hub"})


@dataclass
class World:
    project_id: int
    other_project_id: int
    versions: list[int]  # 7, stamped START + 0..6 s, theme THEME, the first project
    others: list[int]  # 2, stamped START + 1 day, the second project (country VN)


@pytest.fixture
async def world(sessions, factory) -> World:
    project = await factory.project(countries=("TH",))
    other = await factory.project(countries=("VN",))
    inst = await factory.institution("JP")
    await factory.link(project.id, inst.id, InstitutionRole.JAPANESE_LEAD)
    await factory.link(other.id, inst.id, InstitutionRole.JAPANESE_LEAD)
    async with sessions() as session:
        versions = await bulk_published(
            session, project_id=project.id, institution_id=inst.id, count=7, theme_ids=(THEME,)
        )
        others = await bulk_published(
            session,
            project_id=other.id,
            institution_id=inst.id,
            count=2,
            start=START + dt.timedelta(days=1),
            title="Delta salinity",
        )
        await session.commit()
    return World(project.id, other.id, versions, others)


async def oai(client, method="GET", **params) -> ET.Element:
    """The response, validated, as an element tree (`from_` for `from`)."""
    pairs = [(k.rstrip("_"), v) for k, v in params.items()]
    if method == "POST":
        response = await client.post("/oai", data=dict(pairs))
    else:
        response = await client.get("/oai", params=pairs)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/xml")
    validate(response.content)
    return ET.fromstring(response.content)


def error_of(root: ET.Element) -> str | None:
    error = root.find(f"{OAI}error")
    return None if error is None else error.get("code")


def ids(root: ET.Element) -> list[int]:
    return [
        int(e.text.rsplit("-", 1)[1])
        for e in root.iter(f"{OAI}identifier")
        if e.text and e.text.startswith("oai:")
    ]


def token_of(root: ET.Element) -> ET.Element | None:
    return next(root.iter(f"{OAI}resumptionToken"), None)


async def test_identify(client, world):
    root = await oai(client, verb="Identify")
    identify = root.find(f"{OAI}Identify")
    assert identify.findtext(f"{OAI}repositoryName") == "Hub"
    assert identify.findtext(f"{OAI}baseURL") == "http://testserver/oai"
    assert identify.findtext(f"{OAI}earliestDatestamp") == "2025-01-01T00:00:00Z"
    assert identify.findtext(f"{OAI}deletedRecord") == "persistent"
    assert identify.findtext(f"{OAI}granularity") == "YYYY-MM-DDThh:mm:ssZ"
    assert root.find(f"{OAI}request").attrib == {"verb": "Identify"}


async def test_list_metadata_formats(client, world):
    root = await oai(client, verb="ListMetadataFormats")
    prefixes = [e.text for e in root.iter(f"{OAI}metadataPrefix")]
    assert prefixes == ["oai_dc", "oai_datacite"]
    one = await oai(
        client, verb="ListMetadataFormats", identifier=f"oai:testserver:version-{world.versions[0]}"
    )
    assert [e.text for e in one.iter(f"{OAI}metadataPrefix")] == prefixes
    missing = await oai(client, verb="ListMetadataFormats", identifier="oai:testserver:version-0")
    assert error_of(missing) == "idDoesNotExist"


async def test_list_sets_names_themes_projects_and_countries(client, world):
    root = await oai(client, verb="ListSets")
    sets = {
        s.findtext(f"{OAI}setSpec"): s.findtext(f"{OAI}setName") for s in root.iter(f"{OAI}set")
    }
    assert f"project:{world.project_id}" in sets and f"project:{world.other_project_id}" in sets
    assert sets[f"project:{world.project_id}"].startswith("Project ")
    assert {"country:TH", "country:VN"} <= set(sets)
    assert any(spec.startswith("theme:") and name for spec, name in sets.items())


async def test_list_records_pages_through_tokens(client, world):
    seen, cursors = [], []
    root = await oai(client, verb="ListRecords", metadataPrefix="oai_dc")
    while True:
        assert error_of(root) is None
        seen += ids(root)
        token = token_of(root)
        if token is None or not token.text:
            break
        cursors.append((token.get("cursor"), token.get("completeListSize")))
        assert token.get("expirationDate").endswith("Z")
        root = await oai(client, verb="ListRecords", resumptionToken=token.text)
    assert seen == world.versions + world.others
    assert cursors == [("0", "9"), ("3", "9")]
    assert (token.get("cursor"), token.get("completeListSize")) == ("6", "9")

    first = await oai(client, verb="ListRecords", metadataPrefix="oai_dc")
    record = first.find(f"{OAI}ListRecords/{OAI}record")
    header = record.find(f"{OAI}header")
    assert header.findtext(f"{OAI}datestamp") == "2025-01-01T00:00:00Z"
    specs = [e.text for e in header.iter(f"{OAI}setSpec")]
    assert f"project:{world.project_id}" in specs and "country:TH" in specs
    assert any(s.startswith("theme:") for s in specs)
    dc = record.find(f"{OAI}metadata/{{http://www.openarchives.org/OAI/2.0/oai_dc/}}dc")
    assert dc.findtext(f"{DC}title") == "Gauge readings 1"
    assert dc.findtext(f"{DC}type") == "Dataset"
    identifiers = [e.text for e in dc.iter(f"{DC}identifier")]
    assert identifiers[0].startswith("http://testserver/datasets/")
    rights = [e.text for e in dc.iter(f"{DC}rights")]
    assert rights == ["https://spdx.org/licenses/CC-BY-4.0", "info:eu-repo/semantics/openAccess"]
    assert [e.text for e in dc.iter(f"{DC}coverage")][0].startswith("northlimit=14.1;")


async def test_list_identifiers_and_post(client, world):
    root = await oai(client, "POST", verb="ListIdentifiers", metadataPrefix="oai_dc")
    assert ids(root) == world.versions[:PAGE]
    assert root.find(f"{OAI}ListIdentifiers/{OAI}record") is None
    token = token_of(root).text
    after = await oai(client, "POST", verb="ListIdentifiers", resumptionToken=token)
    assert ids(after) == world.versions[PAGE : 2 * PAGE]


async def test_from_and_until_in_both_granularities_until_inclusive(client, world):
    async def harvest(**window):
        found, root = (
            [],
            await oai(client, verb="ListIdentifiers", metadataPrefix="oai_dc", **window),
        )
        while error_of(root) is None:
            found += ids(root)
            token = token_of(root)
            if token is None or not token.text:
                break
            root = await oai(client, verb="ListIdentifiers", resumptionToken=token.text)
        return found

    v = world.versions
    assert await harvest(from_="2025-01-01T00:00:02Z", until="2025-01-01T00:00:04Z") == v[2:5]
    assert await harvest(until="2025-01-01") == v
    assert await harvest(from_="2025-01-02") == world.others
    assert await harvest(from_="2025-01-01", until="2025-01-02") == v + world.others
    late = await oai(client, verb="ListIdentifiers", metadataPrefix="oai_dc", from_="2030-01-01")
    assert error_of(late) == "noRecordsMatch"


async def test_sets_select_records(client, sessions, world):
    async def of(spec):
        root = await oai(client, verb="ListIdentifiers", metadataPrefix="oai_dc", set=spec)
        return error_of(root) or ids(root)

    assert await of(f"project:{world.other_project_id}") == world.others
    assert await of("country:VN") == world.others
    assert await of("country:TH") == world.versions[:PAGE]
    async with sessions() as session:
        code = (await session.get(Theme, THEME)).code
    root = await oai(client, verb="ListSets")
    assert f"theme:{code}" in [e.text for e in root.iter(f"{OAI}setSpec")]
    assert await of(f"theme:{code}") == world.versions[:PAGE]
    assert await of("theme:no-such-theme") == "noRecordsMatch"
    assert await of("project:999999") == "noRecordsMatch"


async def test_get_record_and_deleted_records(client, sessions, world):
    version = world.versions[1]
    identifier = f"oai:testserver:version-{version}"
    root = await oai(client, verb="GetRecord", identifier=identifier, metadataPrefix="oai_dc")
    assert root.find(f"{OAI}GetRecord/{OAI}record/{OAI}metadata") is not None

    async with sessions() as session:  # its dataset made restricted, as the service does
        row = await session.get(PublicRecord, version)
        await session.execute(
            update(Dataset).where(Dataset.id == row.dataset_id).values(access_level="project")
        )
        row.deleted, row.datestamp = True, START + dt.timedelta(days=3)
        await session.commit()
    gone = await oai(client, verb="GetRecord", identifier=identifier, metadataPrefix="oai_dc")
    header = gone.find(f"{OAI}GetRecord/{OAI}record/{OAI}header")
    assert header.get("status") == "deleted"
    assert gone.find(f"{OAI}GetRecord/{OAI}record/{OAI}metadata") is None
    listed = await oai(client, verb="ListRecords", metadataPrefix="oai_dc", from_="2025-01-03")
    assert ids(listed) == [version]
    assert listed.find(f"{OAI}ListRecords/{OAI}record/{OAI}header").get("status") == "deleted"


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({}, "badVerb"),
        ({"verb": "Harvest"}, "badVerb"),
        ({"verb": ["Identify", "Identify"]}, "badVerb"),
        ({"verb": "Identify", "set": "x"}, "badArgument"),
        ({"verb": "ListRecords"}, "badArgument"),
        ({"verb": "GetRecord", "metadataPrefix": "oai_dc"}, "badArgument"),
        ({"verb": "ListRecords", "metadataPrefix": ["oai_dc", "oai_dc"]}, "badArgument"),
        ({"verb": "ListRecords", "metadataPrefix": "oai_dc", "from": "2025-13-01"}, "badArgument"),
        ({"verb": "ListRecords", "metadataPrefix": "oai_dc", "from": "yesterday"}, "badArgument"),
        (
            {"verb": "ListRecords", "metadataPrefix": "oai_dc", "from": "2025-01-01",
             "until": "2025-02-01T00:00:00Z"},
            "badArgument",
        ),
        (
            {"verb": "ListRecords", "metadataPrefix": "oai_dc", "from": "2025-02-01",
             "until": "2025-01-01"},
            "badArgument",
        ),
        ({"verb": "ListRecords", "metadataPrefix": "oai_dc", "set": "a b"}, "badArgument"),
        ({"verb": "ListRecords", "metadataPrefix": "oai_dc", "resumptionToken": "x"}, "badArgument"),
        ({"verb": "ListRecords", "metadataPrefix": "marc21"}, "cannotDisseminateFormat"),
        (
            {"verb": "GetRecord", "metadataPrefix": "marc21", "identifier": "oai:testserver:version-1"},
            "cannotDisseminateFormat",
        ),
        (
            {"verb": "GetRecord", "metadataPrefix": "oai_dc", "identifier": "oai:elsewhere:version-1"},
            "idDoesNotExist",
        ),
        ({"verb": "GetRecord", "metadataPrefix": "oai_dc", "identifier": "x"}, "idDoesNotExist"),
        ({"verb": "ListRecords", "resumptionToken": "garbage"}, "badResumptionToken"),
        ({"verb": "ListSets", "resumptionToken": "anything"}, "badResumptionToken"),
    ],
)  # fmt: skip
async def test_each_error_the_protocol_names(client, world, params, code):
    pairs = [(k, v) for k, vs in params.items() for v in (vs if isinstance(vs, list) else [vs])]
    response = await client.get("/oai", params=pairs)
    assert response.status_code == 200
    validate(response.content)
    root = ET.fromstring(response.content)
    assert error_of(root) == code
    if code in ("badVerb", "badArgument"):  # the request element carries no arguments then
        assert root.find(f"{OAI}request").attrib == {}


async def test_tokens_are_signed_expire_and_belong_to_their_verb(client, settings, sessions, world):
    root = await oai(client, verb="ListRecords", metadataPrefix="oai_dc")
    token = token_of(root).text
    body, mac = token.rsplit(".", 1)
    flipped = body[:-1] + ("A" if body[-1] != "A" else "B")
    for bad in (f"{flipped}.{mac}", f"{body}.{'0' * len(mac)}", body):
        tampered = await oai(client, verb="ListRecords", resumptionToken=bad)
        assert error_of(tampered) == "badResumptionToken"
    other = await oai(client, verb="ListIdentifiers", resumptionToken=token)
    assert error_of(other) == "badResumptionToken"

    signer = UrlSigner.from_file(Path(settings.object_dir) / ".satreps" / "url-key")
    repo = repository(settings, sessions, signer)
    harvest = decode_token(repo, token, "ListRecords")
    expired = encode_token(repo, harvest, int(time.time()) - 1)
    late = await oai(client, verb="ListRecords", resumptionToken=expired)
    assert error_of(late) == "badResumptionToken"
    assert "expired" in late.findtext(f"{OAI}error")
    fresh = encode_token(repo, harvest, int(time.time()) + 60)
    assert ids(await oai(client, verb="ListRecords", resumptionToken=fresh)) == world.versions[3:6]


async def test_characters_xml_cannot_carry_are_dropped(client, sessions, world):
    version = world.versions[0]
    async with sessions() as session:
        row = await session.get(PublicRecord, version)
        await session.execute(
            update(Dataset)
            .where(Dataset.id == row.dataset_id)
            .values(title='Tides\x0b\x1f\ufffe & <levels> "2024" \U0001f30a', description="a\x07b")
        )
        await session.commit()
    identifier = f"oai:testserver:version-{version}"
    root = await oai(client, verb="GetRecord", identifier=identifier, metadataPrefix="oai_dc")
    dc = root.find(
        f"{OAI}GetRecord/{OAI}record/{OAI}metadata/{{http://www.openarchives.org/OAI/2.0/oai_dc/}}dc"
    )
    assert dc.findtext(f"{DC}title") == 'Tides & <levels> "2024" \U0001f30a'
    assert dc.findtext(f"{DC}description") == "ab"
    bad = await oai(client, verb="GetRecord", identifier="oai:\x01<&>", metadataPrefix="oai_dc")
    assert error_of(bad) == "idDoesNotExist"


async def test_oai_datacite_is_the_datacite_kernel_4_document(client, world):
    datacite = "{http://datacite.org/schema/kernel-4}"
    identifier = f"oai:testserver:version-{world.versions[0]}"
    root = await oai(client, verb="GetRecord", identifier=identifier, metadataPrefix="oai_datacite")
    resource = root.find(f"{OAI}GetRecord/{OAI}record/{OAI}metadata/{datacite}resource")
    assert resource.findtext(f"{datacite}titles/{datacite}title") == "Gauge readings 1"
    ident = resource.find(f"{datacite}identifier")  # no DOI known yet: the landing page
    assert ident.get("identifierType") == "URL" and ident.text.startswith("http://testserver/")
    listed = await oai(client, verb="ListRecords", metadataPrefix="oai_datacite")
    assert ids(listed) == world.versions[:PAGE]
    assert len(list(listed.iter(f"{datacite}resource"))) == PAGE


async def test_a_findable_doi_identifies_the_record_in_both_formats(sessions, settings, world):
    from server.models import DatasetVersion, PersistentId

    version = world.versions[0]
    async with sessions() as session:  # DataCite made the version's DOI findable
        dataset_id = (await session.get(DatasetVersion, version)).dataset_id
        session.add(
            PersistentId(
                dataset_id=dataset_id,
                version_id=version,
                scheme="doi",
                value=f"10.5072/satreps.{version}",
                state="findable",
                needs_push=False,
            )
        )
        await session.commit()
    signer = UrlSigner(b"k" * 32)
    repo = repository(settings, sessions, signer)
    for prefix in ("oai_dc", "oai_datacite"):
        pairs = [
            ("verb", "GetRecord"),
            ("metadataPrefix", prefix),
            ("identifier", f"oai:example.org:version-{version}"),
        ]
        body = "".join([chunk async for chunk in respond(repo, pairs, "https://example.org")])
        validate(body)
        if prefix == "oai_dc":
            assert f"<dc:identifier>https://doi.org/10.5072/satreps.{version}<" in body
        else:
            assert f'identifierType="DOI">10.5072/SATREPS.{version}<'.lower() in body.lower()
