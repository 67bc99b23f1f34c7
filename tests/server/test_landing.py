"""The landing pages over HTTP (both databases): the HTML with its schema.org JSON-LD, Dublin
Core tags and Signposting links; each negotiated type and 406; a restricted dataset's 404;
an embargoed dataset's page without distributions and its file refused until the lift; a
public file's stable URL; the Japanese page; a project's page."""

from __future__ import annotations

import datetime as dt
import json
import re
from html.parser import HTMLParser
from typing import Any

import bibtexparser
import pytest
import rispy

from server.http import landing
from server.http.negotiation import choose
from tests.fixtures.datacite import json_problems, xml_problems
from tests.fixtures.publishing import EMBARGO_DAYS, published_world

BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


class Page(HTMLParser):
    """The JSON-LD blocks, the <meta name> tags and the text of a page."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.jsonld: list[Any] = []
        self.meta: list[tuple[str, str]] = []
        self.links: list[str] = []
        self._script: list[str] | None = None
        self.text: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "script" and values.get("type") == "application/ld+json":
            self._script = []
        if tag == "meta" and values.get("name"):
            self.meta.append((str(values["name"]), str(values.get("content"))))
        if tag == "a" and values.get("href"):
            self.links.append(str(values["href"]))

    def handle_data(self, data: str) -> None:
        if self._script is not None:
            self._script.append(data)
        else:
            self.text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "script" and self._script is not None:
            self.jsonld.append(json.loads("".join(self._script)))
            self._script = None

    def names(self, name: str) -> list[str]:
        return [content for key, content in self.meta if key == name]


def links(header: str) -> list[tuple[str, str, str | None]]:
    """(href, rel, type) of a Link header."""
    found = []
    for href, params in re.findall(r"<([^>]*)>((?:\s*;\s*[a-z]+=\"[^\"]*\")*)", header):
        attrs = dict(re.findall(r'([a-z]+)="([^"]*)"', params))
        found.append((href, attrs["rel"], attrs.get("type")))
    return found


@pytest.fixture
async def world(sessions, factory, settings):
    return await published_world(sessions, factory, settings)


async def test_a_dataset_page_for_people_and_machines(client, world):
    response = await client.get(f"/datasets/{world.public_id}", headers={"Accept": BROWSER})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert "Accept" in response.headers["vary"]
    assert "default-src 'none'" in response.headers["content-security-policy"]
    page = Page(response.text)
    landing = f"http://testserver/datasets/{world.public_id}/versions/2"

    (jsonld,) = page.jsonld
    assert jsonld["@context"] == "https://schema.org/" and jsonld["@type"] == "Dataset"
    assert jsonld["name"] == "River levels" and jsonld["version"] == "2"
    assert jsonld["license"] == "https://spdx.org/licenses/CC-BY-4.0"
    assert jsonld["keywords"] == ["hydrology"]
    assert jsonld["isAccessibleForFree"] is True
    assert landing in jsonld["identifier"]
    (creator,) = jsonld["creator"]
    assert creator["@id"] == "https://orcid.org/0000-0002-1825-0097"
    assert creator["affiliation"][0]["@id"] == "https://ror.org/02kpeqv85"
    assert [f["name"] for f in jsonld["funder"]][0].startswith("Japan Science")
    assert jsonld["includedInDataCatalog"]["url"] == "http://testserver/catalog"
    downloads = {d["name"]: d for d in jsonld["distribution"]}
    assert set(downloads) == {"levels.csv", "more.csv"}
    assert downloads["levels.csv"]["contentUrl"] == f"{landing}/files/levels.csv"

    assert page.names("DC.title") == ["River levels"]
    assert page.names("DC.type") == ["Dataset"]
    assert page.names("DC.identifier") == [landing]
    assert page.names("DC.rights") == ["https://spdx.org/licenses/CC-BY-4.0"]
    assert len(page.names("DC.creator")) == 1 and page.names("DC.date")
    text = " ".join(page.text)
    assert "Version 2" in text and "Cite this dataset" in text and "(Version 2) [Dataset]" in text
    assert "https://orcid.org/0000-0002-1825-0097" in page.links
    assert f"{landing}/files/levels.csv" in page.links

    signposts = links(response.headers["link"])
    rels = {}
    for href, rel, kind in signposts:
        rels.setdefault(rel, []).append((href, kind))
    assert rels["cite-as"] == [(landing, None)]
    described = {kind for _, kind in rels["describedby"]}
    assert {"application/ld+json", "application/x-bibtex"} <= described
    assert {"application/x-research-info-systems"} <= described
    assert {href for href, _ in rels["item"]} == {
        f"{landing}/files/levels.csv",
        f"{landing}/files/more.csv",
    }
    assert rels["license"] == [("https://spdx.org/licenses/CC-BY-4.0", None)]
    assert rels["author"] == [("https://orcid.org/0000-0002-1825-0097", None)]
    assert {href for href, _ in rels["type"]} == {
        "https://schema.org/Dataset",
        "https://schema.org/AboutPage",
    }
    # each describedby link answers its type
    for href, kind in rels["describedby"]:
        described_response = await client.get(href)
        assert described_response.status_code == 200, href
        assert described_response.headers["content-type"].startswith(kind)


async def test_each_negotiated_type(client, world):
    url = f"/datasets/{world.public_id}/versions/1"
    landing = f"http://testserver{url}"

    async def get(accept: str) -> Any:
        response = await client.get(url, headers={"Accept": accept})
        assert response.status_code == 200, (accept, response.text)
        assert "Accept" in response.headers["vary"]
        return response

    jsonld = (await get("application/ld+json")).json()
    assert jsonld["@type"] == "Dataset" and jsonld["version"] == "1"
    (entry,) = bibtexparser.parse_string((await get("application/x-bibtex")).text).entries
    assert {f.key: f.value for f in entry.fields}["url"] == landing
    (ris,) = rispy.loads((await get("application/x-research-info-systems")).text)
    assert ris["type_of_reference"] == "DATA" and ris["urls"] == [landing]
    csl = (await get("application/vnd.citationstyles.csl+json")).json()
    assert csl[0]["type"] == "dataset"
    apa = (await get("text/x-bibliography")).text
    assert "(Version 1) [Dataset]" in apa and apa.strip().endswith(landing)
    ieee = await get("text/x-bibliography; style=ieee")
    assert "[Online]. Available:" in ieee.text
    assert ieee.headers["content-type"] == "text/x-bibliography; charset=utf-8"
    vancouver = (await client.get(f"{url}?format=citation&style=vancouver")).text
    assert "[Internet]" in vancouver
    # q-values choose; the browser's */* gets the page
    assert (await get("application/x-bibtex;q=0.5, application/ld+json")).json()["@type"]
    assert (await get("*/*")).headers["content-type"].startswith("text/html")

    cite = await get("application/vnd.datacite.datacite+json")
    assert cite.headers["content-type"] == "application/vnd.datacite.datacite+json"
    attributes = cite.json()
    assert json_problems(attributes) == []  # DataCite 4.5's JSON schema
    assert attributes["titles"][0]["title"] == "River levels" and "doi" not in attributes
    assert attributes["url"] == landing
    # DataCite's XML needs a DOI to name: not offered until the version has one
    no_doi = await client.get(url, headers={"Accept": "application/vnd.datacite.datacite+xml"})
    assert no_doi.status_code == 406
    assert "application/vnd.datacite.datacite+xml" not in no_doi.json()["error"]["offered"]

    refused = await client.get(url, headers={"Accept": "application/pdf"})
    assert refused.status_code == 406
    offered = refused.json()["error"]["offered"]
    assert "application/ld+json" in offered and "text/html" in offered
    assert (
        await client.get(url, headers={"Accept": "text/x-bibliography; style=mla"})
    ).status_code == 406
    assert (await client.get(f"{url}?format=pdf")).status_code == 406


async def test_a_restricted_dataset_is_not_there(client, world):
    for path in (
        f"/datasets/{world.restricted_id}",
        f"/datasets/{world.restricted_id}/versions/1",
        f"/datasets/{world.restricted_id}/versions/1/files/survey.csv",
        f"/datasets/{world.public_id}/versions/9",
        "/datasets/999999",
    ):
        response = await client.get(path)
        assert response.status_code == 404, path
        assert response.json()["error"]["code"] == "NOT_FOUND"
    bibtex = await client.get(
        f"/datasets/{world.restricted_id}", headers={"Accept": "application/x-bibtex"}
    )
    assert bibtex.status_code == 404


async def test_a_public_file_redirects_to_a_fresh_download(client, world):
    url = f"/datasets/{world.public_id}/versions/2/files/levels.csv"
    response = await client.get(url)
    assert response.status_code == 303 and response.headers["cache-control"] == "no-store"
    served = await client.get(response.headers["location"])
    assert served.status_code == 200 and served.content.startswith(b"station,date,level_m")
    assert (
        await client.get(f"/datasets/{world.public_id}/versions/2/files/nope.csv")
    ).status_code == 404


async def test_an_embargoed_dataset_until_the_lift(client, world, sessions):
    from server.datasets.embargo import lift_embargoes

    page = await client.get(f"/datasets/{world.embargoed_id}")
    assert page.status_code == 200
    parsed = Page(page.text)
    (jsonld,) = parsed.jsonld
    assert jsonld["distribution"] == []
    assert "Embargoed until" in jsonld["conditionsOfAccess"]
    assert "under embargo until" in " ".join(parsed.text)
    assert all(rel != "item" for _, rel, _ in links(page.headers["link"]))
    file_url = f"/datasets/{world.embargoed_id}/versions/1/files/cores.csv"
    refused = await client.get(file_url)
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "EMBARGOED"
    until = dt.date.today() + dt.timedelta(days=EMBARGO_DAYS)
    assert refused.json()["error"]["embargoUntil"] == until.isoformat()

    assert await lift_embargoes(sessions, today=until)
    opened = await client.get(
        f"/datasets/{world.embargoed_id}", headers={"Accept": "application/ld+json"}
    )
    assert [d["name"] for d in opened.json()["distribution"]] == ["cores.csv"]
    served = await client.get(file_url)
    assert served.status_code == 303
    assert (await client.get(served.headers["location"])).status_code == 200


async def test_the_japanese_page(client, world, sessions):
    response = await client.get(
        f"/datasets/{world.public_id}", headers={"Accept-Language": "ja-JP,ja;q=0.9,en;q=0.5"}
    )
    assert response.status_code == 200
    assert response.headers["content-language"] == "ja"
    assert '<html lang="ja">' in response.text
    text = " ".join(Page(response.text).text)
    assert "このデータセットを引用" in text and "ファイル" in text
    assert "River levels" in text  # the record's only title, whatever the language

    # with a Japanese translation, each reader gets the title in their language
    from types import SimpleNamespace

    from server.datasets import service as datasets

    titles = [
        SimpleNamespace(lang="en", value="River levels", translated=False),
        SimpleNamespace(lang="ja", value="河川水位", translated=True),
    ]
    async with sessions() as session:
        await datasets.update_dataset(session, world.principal, world.public_id, {"titles": titles})
        await session.commit()
    url = f"/datasets/{world.public_id}"

    async def heading(language: str) -> str:
        page = await client.get(url, headers={"Accept-Language": language})
        return re.search(r'<h2 class="title"[^>]*>([^<]*)</h2>', page.text).group(1)

    assert await heading("ja") == "河川水位"
    assert await heading("en") == "River levels"
    assert await heading("th, ja;q=0.5") == "河川水位"  # no Thai title: the next language read
    thai = Page((await client.get(url, headers={"Accept-Language": "th"})).text)
    assert thai.names("DC.title") == ["River levels", "河川水位"]  # every language, tagged


async def test_a_project_page(client, world):
    response = await client.get(f"/projects/{world.project_id}", headers={"Accept": BROWSER})
    assert response.status_code == 200, response.text
    page = Page(response.text)
    (jsonld,) = page.jsonld
    assert jsonld["@type"] == "ResearchProject" and jsonld["areaServed"] == ["TH"]
    names = {d["name"] for d in jsonld["subjectOf"]}
    assert names == {"River levels", "Soil cores"}  # not the restricted dataset
    assert f"http://testserver/datasets/{world.public_id}" in page.links
    rels = {rel for _, rel, _ in links(response.headers["link"])}
    assert {"cite-as", "describedby", "item", "type"} <= rels
    machine = await client.get(
        f"/projects/{world.project_id}", headers={"Accept": "application/ld+json"}
    )
    assert machine.json()["@type"] == "ResearchProject"
    assert (await client.get("/projects/999999")).status_code == 404


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        (None, "text/html"),
        ("", "text/html"),  # an empty header is read as none
        ("application/ld+json;q=0.9, text/html;q=0.1", "application/ld+json"),
        ("text/*;q=0.5, application/x-bibtex;q=0.4", "text/html"),
        ("*/*;q=0, application/x-bibtex", "application/x-bibtex"),
        ("text/html;q=0", None),
        ("application/ld+json;q=abc", None),
    ],
)
def test_the_accept_header(accept: str | None, expected: str | None) -> None:
    chosen = choose(accept, ["text/html", "application/ld+json", "application/x-bibtex"])
    assert (chosen[0] if chosen else None) == expected


def test_datacite_xml_of_a_record_with_a_doi() -> None:
    import dataclasses

    from tests.fixtures.publishing import sample_record

    @dataclasses.dataclass(frozen=True)
    class WithDoi(type(sample_record())):  # type: ignore[misc]
        doi: str | None = None

    record = WithDoi(**{**sample_record().__dict__, "doi": "10.5072/satreps.3.v2"})
    assert "application/vnd.datacite.datacite+xml" in landing.dataset_types(record)
    xml = landing.BY_QUERY["datacite-xml"].write("https://hub.example.org", record, {})
    assert xml_problems(xml) == []  # the official kernel-4.5 XSD
    assert '<identifier identifierType="DOI">10.5072/satreps.3.v2</identifier>' in xml
    assert ("datacite-xml", "application/vnd.datacite.datacite+xml") in landing.described_by(record)
