"""DataCite metadata of a public record (server.publishing.datacite): every document checked
against DataCite's JSON schema (the `datacite` package's) and its official kernel-4.5 XSD;
bad input mended with a warning (a title too long, characters XML cannot carry, no
creator)."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

from lxml import etree

from server.models.enums import AccessLevel, MemberRole
from server.publishing.datacite import (
    TITLE_MAX,
    Funder,
    concept_document,
    to_datacite_json,
    to_datacite_xml,
    version_document,
)
from server.publishing.record import (
    Coverage,
    FileEntry,
    Organisation,
    Person,
    ProjectRef,
    Text,
    ThemeRef,
    VersionRecord,
)
from tests.fixtures.datacite import json_problems, problems, xml_problems

BASE = "https://hub.example.org"
DOI = "10.80000/satreps.7.v2"
NS = {"d": "http://datacite.org/schema/kernel-4"}

KYOTO = Organisation(1, "Kyoto University", (Text("en", "Kyoto University"),), "JP", "02kpeqv85")
AIT = Organisation(2, "Asian Institute of Technology", (), "TH")


def a_record(**changes) -> VersionRecord:
    record = VersionRecord(
        version_id=12,
        dataset_id=7,
        number=2,
        published_at=dt.datetime(2025, 3, 4, 5, 6, tzinfo=dt.UTC),
        titles=(Text("ja", "メコン川の水位"), Text("en", "Mekong river levels", False)),
        descriptions=(Text("en", "Daily gauge readings at nine stations."),),
        keywords=(Text("en", "hydrology"), Text("ja", "水文学", False)),
        creators=(
            Person(3, "Taro Yamada", "山田太郎", "0000-0002-1825-0097", (KYOTO,), None),
            Person(4, "Somchai Prasert", None, None, (AIT, KYOTO), None),
        ),
        contributors=(Person(5, "Hanako Sato", None, None, (), MemberRole.JAPANESE_PI),),
        publisher=KYOTO,
        licence="CC-BY-4.0",
        access_level=AccessLevel.EMBARGOED,
        embargo_until=dt.date(2026, 1, 1),
        project=ProjectRef(9, (Text("en", "Flood resilience"),), "FLOOD", ("TH",), None, None),
        themes=(ThemeRef(1, "water", (Text("en", "Water resources"),)),),
        coverage=Coverage(
            south=8.5,
            west=100.1,
            north=20.3,
            east=106.8,
            time_start=dt.datetime(2020, 1, 1, tzinfo=dt.UTC),
            time_end=dt.datetime(2024, 12, 31, tzinfo=dt.UTC),
        ),
        files=(
            FileEntry(1, "levels.csv", 1200, "ab" * 32, "text/csv", "csv", False),
            FileEntry(2, "stations.geojson", 800, "cd" * 32, "application/geo+json", None, False),
        ),
        note="Second release: two stations added.",
        previous_version_id=11,
        newer_version_ids=(13,),
    )
    return replace(record, **changes)


def test_a_version_as_datacite_json_and_xml_meets_the_official_schemas():
    record = a_record()
    attributes = to_datacite_json(
        record,
        doi=DOI,
        base_url=BASE,
        concept_doi="10.80000/satreps.7",
        dois={11: "10.80000/satreps.7.v1", 13: "10.80000/satreps.7.v3"},
        funders=[Funder.parse("Japan Science and Technology Agency|https://ror.org/00097mb19")],
    )
    assert json_problems(attributes) == []
    assert attributes["doi"] == DOI
    assert attributes["url"] == "https://hub.example.org/datasets/7/versions/2"
    assert attributes["types"]["resourceTypeGeneral"] == "Dataset"
    assert attributes["publicationYear"] == "2025"
    assert attributes["version"] == "2"
    assert attributes["language"] == "ja"
    assert attributes["titles"] == [
        {"title": "メコン川の水位", "lang": "ja"},
        {"title": "Mekong river levels", "lang": "en", "titleType": "TranslatedTitle"},
    ]
    first = attributes["creators"][0]
    assert first["nameIdentifiers"][0] == {
        "nameIdentifier": "https://orcid.org/0000-0002-1825-0097",
        "nameIdentifierScheme": "ORCID",
        "schemeUri": "https://orcid.org/",
    }
    assert first["affiliation"][0]["affiliationIdentifier"] == "https://ror.org/02kpeqv85"
    assert first["affiliation"][0]["affiliationIdentifierScheme"] == "ROR"
    assert attributes["contributors"][0]["contributorType"] == "ProjectLeader"
    assert attributes["publisher"]["publisherIdentifier"] == "https://ror.org/02kpeqv85"
    assert {"date": "2026-01-01", "dateType": "Available"} in attributes["dates"]
    assert {"date": "2025-03-04", "dateType": "Issued"} in attributes["dates"]
    assert {"date": "2020-01-01/2024-12-31", "dateType": "Collected"} in attributes["dates"]
    assert [
        (r["relationType"], r["relatedIdentifier"]) for r in attributes["relatedIdentifiers"]
    ] == [
        ("IsVersionOf", "10.80000/satreps.7"),
        ("IsNewVersionOf", "10.80000/satreps.7.v1"),
        ("IsPreviousVersionOf", "10.80000/satreps.7.v3"),
    ]
    assert attributes["rightsList"] == [
        {
            "rights": "CC-BY-4.0",
            "rightsUri": "https://spdx.org/licenses/CC-BY-4.0",
            "rightsIdentifier": "CC-BY-4.0",
            "rightsIdentifierScheme": "SPDX",
            "schemeUri": "https://spdx.org/licenses/",
        }
    ]
    assert attributes["geoLocations"] == [
        {
            "geoLocationBox": {
                "westBoundLongitude": 100.1,
                "eastBoundLongitude": 106.8,
                "southBoundLatitude": 8.5,
                "northBoundLatitude": 20.3,
            }
        }
    ]
    assert attributes["sizes"] == ["2 files", "2000 bytes"]
    assert attributes["formats"] == ["application/geo+json", "text/csv"]
    assert [s["subject"] for s in attributes["subjects"]] == [
        "hydrology",
        "水文学",
        "Water resources",
    ]
    assert attributes["fundingReferences"] == [
        {
            "funderName": "Japan Science and Technology Agency",
            "funderIdentifier": "https://ror.org/00097mb19",
            "funderIdentifierType": "ROR",
            "awardTitle": "Flood resilience",
        }
    ]

    xml = to_datacite_xml(record, doi=DOI, base_url=BASE, concept_doi="10.80000/satreps.7")
    assert xml_problems(xml) == []
    root = etree.fromstring(xml.encode())
    assert root.findtext("d:identifier", namespaces=NS) == DOI
    assert root.find("d:identifier", NS).get("identifierType") == "DOI"
    titles = root.findall("d:titles/d:title", NS)
    assert titles[0].get("{http://www.w3.org/XML/1998/namespace}lang") == "ja"
    rights = root.find("d:rightsList/d:rights", NS)
    assert rights.get("rightsIdentifierScheme") == "SPDX"
    box = root.find("d:geoLocations/d:geoLocation/d:geoLocationBox", NS)
    assert box.findtext("d:westBoundLongitude", namespaces=NS) == "100.1"


def test_the_concept_doi_points_at_the_dataset_and_its_versions():
    record = a_record(embargo_until=None, access_level=AccessLevel.PUBLIC)
    document = concept_document(
        record,
        doi="10.80000/satreps.7",
        base_url=BASE,
        version_dois=["10.80000/satreps.7.v1", DOI],
    )
    assert problems(document.attributes) == [] and document.warnings == []
    assert document.attributes["url"] == "https://hub.example.org/datasets/7"
    assert "version" not in document.attributes
    assert [r["relationType"] for r in document.attributes["relatedIdentifiers"]] == [
        "HasVersion",
        "HasVersion",
    ]
    assert all(d["dateType"] != "Available" for d in document.attributes["dates"])


def test_a_title_longer_than_the_limit_is_cut_at_a_word_with_a_warning():
    long = "Daily water levels " * 60  # 1,140 characters
    document = version_document(a_record(titles=(Text("en", long),)), doi=DOI, base_url=BASE)
    title = document.attributes["titles"][0]["title"]
    assert len(title) <= TITLE_MAX and title.endswith("levels…")
    assert document.warnings == [f"title (en) cut to {TITLE_MAX} characters"]
    assert problems(document.attributes) == []


def test_characters_xml_cannot_carry_are_removed_with_a_warning():
    record = a_record(
        titles=(Text("en", "River\x00 levels\x1b"),),
        descriptions=(Text("en", "Tab\tand newline\n kept; bell\x07 and \ufffe not."),),
        creators=(Person(3, "Taro\x0bYamada", None, None, (), None),),
    )
    document = version_document(record, doi=DOI, base_url=BASE)
    attributes = document.attributes
    assert attributes["titles"] == [{"title": "River levels", "lang": "en"}]
    assert attributes["descriptions"][0]["description"] == (
        "Tab\tand newline\n kept; bell and  not."
    )
    assert attributes["creators"][0]["name"] == "TaroYamada"
    assert "characters XML cannot carry removed" in document.warnings
    assert problems(attributes) == []


def test_no_creator_credits_the_publisher_as_an_organisation():
    document = version_document(a_record(creators=()), doi=DOI, base_url=BASE)
    assert document.attributes["creators"] == [
        {
            "name": "Kyoto University",
            "nameType": "Organizational",
            "nameIdentifiers": [
                {
                    "nameIdentifier": "https://ror.org/02kpeqv85",
                    "nameIdentifierScheme": "ROR",
                    "schemeUri": "https://ror.org/",
                }
            ],
        }
    ]
    assert document.warnings == ["no creator: the publisher is credited as the creator"]
    assert problems(document.attributes) == []


def test_a_bare_record_still_meets_the_schemas():
    record = a_record(
        titles=(Text("und", "Levels"),),
        descriptions=(),
        keywords=(),
        creators=(),
        contributors=(),
        publisher=AIT,
        licence="",
        embargo_until=None,
        themes=(),
        coverage=Coverage(),
        files=(),
        note=None,
        previous_version_id=None,
        newer_version_ids=(),
    )
    attributes = to_datacite_json(record, doi=DOI, base_url=BASE)
    assert problems(attributes) == []
    assert "language" not in attributes and attributes["titles"] == [{"title": "Levels"}]


def test_the_schemas_catch_what_is_wrong():
    attributes = to_datacite_json(a_record(), doi=DOI, base_url=BASE)
    assert json_problems({**attributes, "titles": []})
    assert json_problems({**attributes, "types": {"resourceTypeGeneral": "Spreadsheet"}})
    broken = to_datacite_xml(a_record(), doi=DOI, base_url=BASE).replace(
        'dateType="Issued"', 'dateType="Published"'
    )
    assert xml_problems(broken)
