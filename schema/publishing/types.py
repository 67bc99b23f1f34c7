"""Persistent identifiers in GraphQL: `DatasetVersion.pid` (the version's DOI) and
`Dataset.conceptPid` (the dataset's, whatever its version), read through dataloaders. They
are fields of types the caller already sees, so they are visible by the same rules as the
version and the dataset. The compiled read path leaves them to these resolvers."""

from __future__ import annotations

import datetime as dt
import enum

import strawberry

from schema.compiled.mapping import compiled
from schema.context import Info
from server.models import PersistentId
from server.publishing import pids as rules
from server.publishing import queries as reads


@strawberry.enum(
    description="DOI: registered with DataCite; LOCAL: this server's own identifier (no"
    " registry: the embedded default, without DataCite credentials)"
)
class PidScheme(enum.StrEnum):
    DOI = rules.DOI
    LOCAL = rules.LOCAL


@strawberry.enum(
    description="DRAFT: not yet at the registry; FINDABLE: registered and public;"
    " REGISTERED: known to the registry but hidden (the record was withdrawn); FAILED: the"
    " registry refused it (see reason; the next change of the record pushes it again)"
)
class PidState(enum.StrEnum):
    DRAFT = rules.DRAFT
    FINDABLE = rules.FINDABLE
    REGISTERED = rules.REGISTERED
    FAILED = rules.FAILED


@strawberry.type(
    description="A persistent identifier: a DOI through DataCite, or a local identifier of"
    " the same shape where DataCite is not configured"
)
class PersistentIdentifier:
    scheme: PidScheme
    value: str = strawberry.field(description="10.xxxx/satreps.<dataset>.v<n>, satreps:<...>")
    url: str = strawberry.field(
        description="Where it resolves: https://doi.org/<doi>, or the landing page"
    )
    state: PidState
    reason: str | None = strawberry.field(
        description="Why it failed, the last transient error while retrying, or what the last"
        " registration mended to fit DataCite (a title cut, characters removed)"
    )
    updated_at: dt.datetime

    @classmethod
    def of(cls, row: PersistentId, base: str, number: int | None) -> PersistentIdentifier:
        return cls(
            scheme=PidScheme(row.scheme),
            value=row.value,
            url=rules.pid_url(row.scheme, row.value, base, row.dataset_id, number),
            state=PidState(row.state),
            reason=row.reason,
            updated_at=row.updated_at,
        )


def _base(info: Info) -> str:
    return info.context.settings.public_base_url or ""


@compiled(partial=True, python=("pid",))
@strawberry.type
class VersionPidFields:
    """The `pid` field of DatasetVersion (a mixin)."""

    @strawberry.field(
        description="The version's persistent identifier; null until the version is a public"
        " record (published, in a public or embargoed dataset of a project past approval)"
    )
    async def pid(self, info: Info) -> PersistentIdentifier | None:
        version_id: int = self.id  # type: ignore[attr-defined]
        found = await info.context.loaders.one(reads.pids_by_version).load(version_id)
        if found is None:
            return None
        row, number = found
        return PersistentIdentifier.of(row, _base(info), number)


@compiled(partial=True, python=("concept_pid",))
@strawberry.type
class DatasetPidFields:
    """The `conceptPid` field of Dataset (a mixin)."""

    @strawberry.field(
        description="The dataset's persistent identifier, whatever its version (resolves to"
        " its latest public version); null until it has a public record"
    )
    async def concept_pid(self, info: Info) -> PersistentIdentifier | None:
        dataset_id: int = self.id  # type: ignore[attr-defined]
        row = await info.context.loaders.one(reads.concept_pids_by_dataset).load(dataset_id)
        return None if row is None else PersistentIdentifier.of(row, _base(info), None)
