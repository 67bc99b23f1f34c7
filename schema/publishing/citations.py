"""`DatasetVersion.citation(style, format)` and `citationExport(format)`: the version's
reference in a CSL style and its BibTeX, RIS and CSL-JSON (server/publishing/citations.py).

Only a public record is cited (a published version of a public or embargoed dataset in a
project past approval): a citation points at a landing page or DOI the reader can open.
Callers see the fields of the versions they may see; for any other version (a draft, a
restricted dataset's) both are null."""

from __future__ import annotations

from enum import StrEnum

import strawberry

from schema.compiled.mapping import compiled
from schema.context import Info
from server.publishing import citations
from server.publishing.loading import load_records
from server.publishing.record import VersionRecord
from server.publishing.urls import absolute, version_path

CitationStyle = strawberry.enum(
    citations.CitationStyle,
    name="CitationStyle",
    description="CSL styles: APA 7th, Chicago author-date, Harvard (Cite Them Right), IEEE,"
    " Vancouver (rendered by its parent style, NLM citation-sequence)",
)
CitationFormat = strawberry.enum(
    citations.CitationFormat,
    name="CitationFormat",
    description="TEXT: plain text; HTML: escaped HTML with the style's markup (<i>, <b>)",
)


class CitationExportFormatEnum(StrEnum):
    BIBTEX = "bibtex"
    RIS = "ris"
    CSL_JSON = "csl-json"


CitationExportFormat = strawberry.enum(
    CitationExportFormatEnum,
    name="CitationExportFormat",
    description="BIBTEX: a @misc entry; RIS: a record of type DATA; CSL_JSON: an array of"
    " one CSL-JSON item",
)

_EXPORTS = {
    CitationExportFormatEnum.BIBTEX: citations.bibtex,
    CitationExportFormatEnum.RIS: citations.ris,
    CitationExportFormatEnum.CSL_JSON: citations.csl_json_text,
}


async def _record(info: Info, version_id: int) -> tuple[VersionRecord, str] | None:
    """The version's public record and its landing page's URL, or None."""
    record = await info.context.loaders.one(load_records).load(version_id)
    if record is None:
        return None
    base = info.context.signer.base_url
    return record, absolute(base, version_path(record.dataset_id, record.number))


@compiled(partial=True, python=("citation", "citation_export"))
@strawberry.type
class VersionCitationFields:
    """Fields this module adds to DatasetVersion (a mixin)."""

    @strawberry.field(
        description="The version's reference in a citation style (null unless the version is"
        " a public record: published, its dataset public or embargoed, its project past"
        " approval); the DOI when it has one, else its landing page"
    )
    async def citation(
        self,
        info: Info,
        style: CitationStyle = citations.CitationStyle.APA,  # type: ignore[valid-type]
        format: CitationFormat = citations.CitationFormat.TEXT,  # type: ignore[valid-type]
    ) -> str | None:
        found = await _record(info, self.id)  # type: ignore[attr-defined]
        if found is None:
            return None
        return citations.render(
            *found, citations.CitationStyle(style), citations.CitationFormat(format)
        )

    @strawberry.field(
        description="The version's reference for citation managers (null as for citation)"
    )
    async def citation_export(
        self,
        info: Info,
        format: CitationExportFormat,  # type: ignore[valid-type]
    ) -> str | None:
        found = await _record(info, self.id)  # type: ignore[attr-defined]
        if found is None:
            return None
        return _EXPORTS[CitationExportFormatEnum(format)](*found)
