"""DatasetVersion.citation and citationExport through GraphQL (both databases): a public
record is cited in each style and exported; a restricted dataset's version is not cited."""

from __future__ import annotations

from typing import Any

import bibtexparser
import rispy

from server.core.global_ids import global_id
from server.models.enums import AccountRole
from tests.fixtures.publishing import published_world

CITE = """
query Cite($id: ID!, $style: CitationStyle!, $format: CitationFormat!) {
  node(id: $id) {
    ... on DatasetVersion {
      number
      apa: citation
      styled: citation(style: $style, format: $format)
      bibtex: citationExport(format: BIBTEX)
      ris: citationExport(format: RIS)
      csl: citationExport(format: CSL_JSON)
    }
  }
}
"""


async def cite(client: Any, version_id: int, style: str = "IEEE", format: str = "HTML") -> Any:
    variables = {"id": global_id("DatasetVersion", version_id), "style": style, "format": format}
    return (await client(CITE, variables))["node"]


async def test_a_public_version_is_cited_and_exported(gql, sessions, factory, settings, make_token):
    world = await published_world(sessions, factory, settings)
    found = await cite(gql, world.public_versions[1])
    landing = f"http://testserver/datasets/{world.public_id}/versions/2"
    assert found["number"] == 2
    assert "(Version 2) [Dataset]" in found["apa"] and found["apa"].endswith(landing)
    assert found["styled"].endswith(f"[Online]. Available: {landing}")
    (entry,) = bibtexparser.parse_string(found["bibtex"]).entries
    assert {f.key: f.value for f in entry.fields}["title"] == "River levels"
    (ris,) = rispy.loads(found["ris"])
    assert ris["type_of_reference"] == "DATA" and ris["edition"] == "2"
    assert '"type": "dataset"' in found["csl"]

    # an embargoed dataset's record is public (its files are not): cited to whoever sees it
    admin = gql.as_(await make_token(AccountRole.ADMIN))
    embargoed = await cite(admin, world.embargoed_version, "VANCOUVER", "TEXT")
    assert "Soil cores [Internet]" in embargoed["styled"]


async def test_a_restricted_version_is_not_cited(gql, sessions, factory, settings, make_token):
    world = await published_world(sessions, factory, settings)
    assert await cite(gql, world.restricted_version) is None  # anonymous: not visible
    admin = gql.as_(await make_token(AccountRole.ADMIN))
    found = await cite(admin, world.restricted_version)
    assert found["number"] == 1  # the version is visible to an admin, but no public record
    assert found["apa"] is None and found["bibtex"] is None and found["csl"] is None
