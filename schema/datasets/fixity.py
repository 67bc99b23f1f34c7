"""A version's fixity in GraphQL: `fixity { lastCheckedAt outcome checkedFiles failedFiles }`,
summed up from its files' latest checks (server/provenance/fixity.py writes them), through a
dataloader and, on the compiled path, as one aggregate subquery of the same rule."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace
from typing import Any

import strawberry
from graphql.execution.collect_fields import FieldDetailsList
from sqlalchemy import select
from sqlalchemy.orm import aliased

from schema.compiled.compiler import Compiler
from schema.compiled.mapping import compiled
from schema.context import Info
from server import models
from server.datasets import queries as reads
from server.models.enums import FixityOutcome as FixityOutcomeEnum

FixityOutcome = strawberry.enum(
    FixityOutcomeEnum,
    name="FixityOutcome",
    description="OK: the stored bytes match the recorded size and sha256; MISMATCH: they"
    " differ (altered); MISSING: the object is gone",
)


@compiled()
@strawberry.type(
    description="The latest fixity checks of a version's files (raw objects re-hashed on"
    " schedule, by `satreps fixity` or checkFixity). A file whose check failed is not served"
    " (downloadUrl answers FIXITY_FAILED)"
)
class VersionFixity:
    last_checked_at: dt.datetime | None = strawberry.field(
        description="The most recent check of any of its files (null: none checked yet)"
    )
    outcome: FixityOutcome | None = strawberry.field(  # type: ignore[valid-type]
        description="The worst of the files' latest checks (MISSING, then MISMATCH); OK when"
        " every file was checked and matched; null while none failed and one was never checked"
    )
    checked_files: int = strawberry.field(description="Files checked at least once")
    failed_files: int = strawberry.field(description="Files whose latest check failed")


def _fixity(c: Compiler, row: Any, details: FieldDetailsList, args: Any) -> Any:
    file = aliased(models.DatasetFile)
    files = select(file).where(file.version_id == row.id)
    summary = SimpleNamespace(**reads.fixity_columns(file))
    return c.json.one(files, c.object("VersionFixity", summary, details))


@compiled(partial=True, fixity=_fixity)
@strawberry.type
class VersionFixityFields:
    """The `fixity` field of DatasetVersion (a mixin)."""

    @strawberry.field(description="Its files' latest fixity checks, summed up")
    async def fixity(self, info: Info) -> VersionFixity:
        version_id: int = self.id  # type: ignore[attr-defined]
        found = await info.context.loaders.one(reads.fixity_by_version).load(version_id)
        summary = found or reads.NO_FILES
        return VersionFixity(
            last_checked_at=summary.last_checked_at,
            outcome=FixityOutcomeEnum(summary.outcome) if summary.outcome else None,
            checked_files=summary.checked_files,
            failed_files=summary.failed_files,
        )
