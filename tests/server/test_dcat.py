"""The DCAT-AP 3 catalogue (server/publishing/dcat.py, GET /catalog): valid under the
official DCAT-AP 3.0.1 SHACL shapes with pySHACL (zero violations), in Turtle and JSON-LD;
the public records only, a distribution per file the public may read (none for an embargoed
version until the lift)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from pyshacl import validate
from rdflib import Graph, URIRef
from rdflib.namespace import DCAT, DCTERMS, RDF

from server.publishing.dcat import catalog_graph
from tests.fixtures.publishing import EMBARGO_DAYS, published_world, sample_record

SHAPES = Path(__file__).parents[1] / "fixtures" / "data" / "dcat"
# the release's shapes file; the specification's constraints with its ranges
SHAPE_SETS = (("dcat-ap-SHACL.ttl",), ("shapes.ttl", "range.ttl"))


def violations(graph: Graph) -> list[str]:
    """Each shape set's report text where the graph does not conform (warnings count)."""
    found = []
    for names in SHAPE_SETS:
        shapes = Graph()
        for name in names:
            shapes.parse(SHAPES / name)
        conforms, _, text = validate(graph, shacl_graph=shapes, inference="none")
        if not conforms:
            found.append(str(text))
    return found


def test_a_hand_built_catalogue_conforms_and_the_shapes_bite() -> None:
    first = sample_record(version_id=10, number=1, previous_version_id=None)
    graph = catalog_graph("https://hub.example.org", [first, sample_record()])
    assert violations(graph) == []
    second = URIRef("https://hub.example.org/datasets/3/versions/2")
    assert (second, URIRef(f"{DCAT}previousVersion"), URIRef(f"{second}"[:-1] + "1")) in graph

    broken = catalog_graph("https://hub.example.org", [sample_record()])
    for distribution in list(broken.objects(second, DCAT.distribution)):
        broken.remove((distribution, DCAT.accessURL, None))
    broken.remove((second, DCTERMS.title, None))
    reports = violations(broken)
    assert reports and "accessURL" in reports[0] and "title" in reports[0]


@pytest.fixture
async def world(sessions, factory, settings):
    return await published_world(sessions, factory, settings)


def datasets(graph: Graph) -> dict[str, URIRef]:
    return {str(graph.value(d, DCTERMS.title)): d for d in graph.subjects(RDF.type, DCAT.Dataset)}


async def test_the_catalogue_over_http(client, world, sessions):
    from server.datasets.embargo import lift_embargoes

    response = await client.get("/catalog.ttl")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/turtle; charset=utf-8"
    graph = Graph().parse(data=response.text, format="turtle")
    assert violations(graph) == []
    found = datasets(graph)
    assert set(found) == {"River levels", "Soil cores"}  # not the restricted one
    assert len(list(graph.subjects(RDF.type, DCAT.Dataset))) == 3  # two versions + one
    assert not list(graph.objects(found["Soil cores"], DCAT.distribution))  # embargoed
    catalog = URIRef("http://testserver/catalog")
    assert (catalog, RDF.type, DCAT.Catalog) in graph
    assert len(list(graph.objects(catalog, DCAT.dataset))) == 3

    jsonld = await client.get("/catalog", headers={"Accept": "application/ld+json"})
    assert jsonld.headers["content-type"] == "application/ld+json"
    same = Graph().parse(data=jsonld.text, format="json-ld")
    assert len(same) == len(graph) and violations(same) == []
    assert (await client.get("/catalog", headers={"Accept": "image/png"})).status_code == 406

    await lift_embargoes(sessions, today=dt.date.today() + dt.timedelta(days=EMBARGO_DAYS))
    lifted = Graph().parse(data=(await client.get("/catalog.ttl")).text, format="turtle")
    cores = datasets(lifted)["Soil cores"]
    (distribution,) = lifted.objects(cores, DCAT.distribution)
    assert str(lifted.value(distribution, DCAT.accessURL)).endswith("/files/cores.csv")
    assert violations(lifted) == []
