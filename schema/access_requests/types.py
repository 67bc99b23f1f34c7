"""Access requests, their approvals, the grants they give, and data use agreements: the
GraphQL types, the Dataset fields that reach them, inputs and payloads. The rules are in
server/access_requests/."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Annotated

import strawberry

from schema.compiled.mapping import compiled
from schema.context import Info
from schema.errors import UserError, error_codes
from schema.loaders import present
from schema.researchers import Researcher
from schema.texts import (
    EACH_LANGUAGE,
    Fallback,
    LanguageTextInput,
    TextField,
    text_fields,
    texts_input,
)
from server.access_requests import errors as codes
from server.access_requests import queries
from server.access_requests.service import effective_status
from server.core.global_ids import global_id
from server.datasets import queries as dataset_reads
from server.models import access_requests as models
from server.models.enums import AccessRequestStatus as AccessRequestStatusEnum
from server.models.enums import ApprovalSide as ApprovalSideEnum

if TYPE_CHECKING:
    from schema.datasets.types import Dataset

LazyDataset = Annotated["Dataset", strawberry.lazy("schema.datasets.types")]

AccessRequestErrorCode = error_codes("AccessRequestErrorCode", codes.AccessRequestErrorCode)


@strawberry.type(description="An expected failure of an access request or agreement mutation.")
class AccessRequestError(UserError):
    code: AccessRequestErrorCode  # type: ignore[valid-type]


AccessRequestStatus = strawberry.enum(
    AccessRequestStatusEnum,
    name="AccessRequestStatus",
    description="PENDING until decided, withdrawn or expired (a pending request past its"
    " expiry reads EXPIRED)",
)
ApprovalSide = strawberry.enum(
    ApprovalSideEnum,
    name="ApprovalSide",
    description="Whose approval: the Japanese lead, the partner lead (both needed for"
    " partner-country data), or the owner institution's data steward",
)


async def _researcher(info: Info, researcher_id: int | None) -> Researcher | None:
    if researcher_id is None:
        return None
    row = await info.context.loaders.researcher_by_id.load(researcher_id)
    return Researcher.from_row(present(row))


@strawberry.type(description="The Nagoya Protocol's access and benefit-sharing references.")
class AbsReferences:
    provider_country: str | None = strawberry.field(
        description="ISO 3166-1 alpha-2 code of the country providing the genetic resources"
    )
    prior_informed_consent: str | None = strawberry.field(
        description="Prior informed consent (PIC) document reference"
    )
    mutually_agreed_terms: str | None = strawberry.field(
        description="Mutually agreed terms (MAT) document reference"
    )
    ircc: str | None = strawberry.field(
        description="Internationally recognised certificate of compliance (ABSCH-IRCC-...)"
    )


@strawberry.type(description="Who accepted a version of a data use agreement, and when.")
class AgreementAcceptance:
    accepted_at: dt.datetime
    researcher_id: strawberry.Private[int]

    @strawberry.field
    async def researcher(self, info: Info) -> Researcher | None:
        return await _researcher(info, self.researcher_id)

    @classmethod
    def from_row(cls, row: models.AgreementAcceptance) -> AgreementAcceptance:
        return cls(accepted_at=row.accepted_at, researcher_id=row.researcher_id)


AGREEMENT_TITLE = TextField("agreement", "title", (Fallback("title", "und"),), key="pk")


@strawberry.type(
    description="One version of a dataset's terms of use; a newer version must be accepted"
    " anew before a grant opens the data again."
)
class DataUseAgreement:
    pk: strawberry.Private[int]
    dataset_id: strawberry.Private[int]
    version: int
    title: strawberry.Private[str]  # the original (the column)
    body: str
    created_at: dt.datetime
    abs: AbsReferences | None

    title_in, titles = text_fields(AGREEMENT_TITLE, "The title" + EACH_LANGUAGE, required="title")

    @strawberry.field
    def id(self) -> strawberry.ID:
        return strawberry.ID(global_id("DataUseAgreement", self.pk))

    @strawberry.field(
        description="Who accepted this version: the caller's own acceptance, or all of them"
        " for those who decide on the dataset"
    )
    async def acceptances(self, info: Info) -> list[AgreementAcceptance]:
        loader = info.context.loaders.many_visible(queries.acceptances_by_agreement)
        return [AgreementAcceptance.from_row(r) for r in await loader.load(self.pk)]

    @strawberry.field(description="Whether the caller's researcher accepted this version")
    async def accepted_by_me(self, info: Info) -> bool:
        rid = info.context.principal.researcher_id
        loader = info.context.loaders.many_visible(queries.acceptances_by_agreement)
        return any(r.researcher_id == rid for r in await loader.load(self.pk))

    @classmethod
    def from_row(cls, row: models.DataUseAgreement) -> DataUseAgreement:
        refs = AbsReferences(
            provider_country=row.abs_provider_country,
            prior_informed_consent=row.abs_pic_ref,
            mutually_agreed_terms=row.abs_mat_ref,
            ircc=row.abs_ircc,
        )
        given = any(vars(refs).values())
        return cls(
            pk=row.id,
            dataset_id=row.dataset_id,
            version=row.version,
            title=row.title,
            body=row.body,
            created_at=row.created_at,
            abs=refs if given else None,
        )


@strawberry.type(
    description="Time-limited read access to a dataset for one researcher, from an approved"
    " request: live until its last day unless revoked (and, where the dataset has a data use"
    " agreement, once its current version is accepted)."
)
class AccessGrant:
    pk: strawberry.Private[int]
    dataset_pk: strawberry.Private[int]
    researcher_id: strawberry.Private[int]
    granted_at: dt.datetime
    valid_until: dt.date = strawberry.field(description="The last day of access")
    revoked_at: dt.datetime | None
    revoke_reason: str | None

    @strawberry.field
    def id(self) -> strawberry.ID:
        return strawberry.ID(global_id("AccessGrant", self.pk))

    @strawberry.field
    def dataset_id(self) -> strawberry.ID:
        return strawberry.ID(global_id("Dataset", self.dataset_pk))

    @strawberry.field(description="Neither revoked nor past its last day")
    def active(self) -> bool:
        return self.revoked_at is None and self.valid_until >= dt.datetime.now(dt.UTC).date()

    @strawberry.field
    async def researcher(self, info: Info) -> Researcher | None:
        return await _researcher(info, self.researcher_id)

    @classmethod
    def from_row(cls, row: models.AccessGrant) -> AccessGrant:
        return cls(
            pk=row.id,
            dataset_pk=row.dataset_id,
            researcher_id=row.researcher_id,
            granted_at=row.granted_at,
            valid_until=row.valid_until,
            revoked_at=row.revoked_at,
            revoke_reason=row.revoke_reason,
        )


@strawberry.type(description="One side's approval of an access request.")
class AccessApproval:
    side: ApprovalSide  # type: ignore[valid-type]
    at: dt.datetime
    researcher_id: strawberry.Private[int | None]

    @strawberry.field(description="The approver, where their account is linked to one")
    async def researcher(self, info: Info) -> Researcher | None:
        return await _researcher(info, self.researcher_id)


@strawberry.type(
    description="A researcher's request for access to a dataset they may not read, with a"
    " purpose. Seen by the requester and by those who decide on the dataset."
)
class AccessRequest:
    pk: strawberry.Private[int]
    dataset_pk: strawberry.Private[int]
    researcher_id: strawberry.Private[int]
    purpose: str
    status: AccessRequestStatus  # type: ignore[valid-type]
    dual_approval: bool = strawberry.field(
        description="Partner-country data: the Japanese and the partner lead both approve"
    )
    created_at: dt.datetime
    expires_at: dt.datetime
    decided_at: dt.datetime | None
    denial_reason: str | None

    @strawberry.field
    def id(self) -> strawberry.ID:
        return strawberry.ID(global_id("AccessRequest", self.pk))

    @strawberry.field(description="The dataset's global id (its metadata may be hidden)")
    def dataset_id(self) -> strawberry.ID:
        return strawberry.ID(global_id("Dataset", self.dataset_pk))

    @strawberry.field(description="The dataset, when the caller may see its metadata")
    async def dataset(self, info: Info) -> LazyDataset | None:
        from schema.datasets.types import Dataset

        row = await info.context.loaders.one_visible(dataset_reads.datasets_by_id).load(
            self.dataset_pk
        )
        return Dataset.from_row(row) if row is not None else None

    @strawberry.field
    async def requester(self, info: Info) -> Researcher | None:
        return await _researcher(info, self.researcher_id)

    @strawberry.field(description="Oldest first")
    async def approvals(self, info: Info) -> list[AccessApproval]:
        rows = await info.context.loaders.many(queries.approvals_by_request).load(self.pk)
        return [AccessApproval(side=r.side, at=r.at, researcher_id=r.researcher_id) for r in rows]

    @strawberry.field(description="The grant an approval gave")
    async def grant(self, info: Info) -> AccessGrant | None:
        row = await info.context.loaders.one(queries.grants_by_request).load(self.pk)
        return AccessGrant.from_row(row) if row is not None else None

    @strawberry.field(
        description="The dataset's current data use agreement, to accept before approval"
    )
    async def agreement(self, info: Info) -> DataUseAgreement | None:
        rows = await info.context.loaders.many(queries.agreements_by_dataset).load(self.dataset_pk)
        return DataUseAgreement.from_row(rows[0]) if rows else None

    @classmethod
    def from_row(cls, row: models.AccessRequest) -> AccessRequest:
        return cls(
            pk=row.id,
            dataset_pk=row.dataset_id,
            researcher_id=row.researcher_id,
            purpose=row.purpose,
            status=effective_status(row),
            dual_approval=row.dual,
            created_at=row.created_at,
            expires_at=row.expires_at,
            decided_at=row.decided_at,
            denial_reason=row.denial_reason,
        )


@compiled(partial=True, python=("access_grants", "data_use_agreement", "data_use_agreements"))
@strawberry.type
class DatasetAccessFields:
    """Fields this package adds to the Dataset type (a mixin of schema.datasets.Dataset)."""

    @strawberry.field(
        description="Access grants on this dataset: the caller's own, or all of them for its"
        " data stewards, the project's PIs and staff"
    )
    async def access_grants(self, info: Info) -> list[AccessGrant]:
        loader = info.context.loaders.many_visible(queries.grants_by_dataset)
        return [AccessGrant.from_row(r) for r in await loader.load(_pk(self))]

    @strawberry.field(description="The current version of the data use agreement, if any")
    async def data_use_agreement(self, info: Info) -> DataUseAgreement | None:
        rows = await info.context.loaders.many(queries.agreements_by_dataset).load(_pk(self))
        return DataUseAgreement.from_row(rows[0]) if rows else None

    @strawberry.field(description="Every version of the data use agreement, newest first")
    async def data_use_agreements(self, info: Info) -> list[DataUseAgreement]:
        rows = await info.context.loaders.many(queries.agreements_by_dataset).load(_pk(self))
        return [DataUseAgreement.from_row(r) for r in rows]


def _pk(dataset: object) -> int:
    pk: int = dataset.id  # type: ignore[attr-defined]  # the Dataset type's NodeID
    return pk


# ---- inputs and payloads -----------------------------------------------------------------


@strawberry.input
class RequestDatasetAccessInput:
    dataset_id: strawberry.ID
    purpose: str = strawberry.field(description="What the data is for (up to 4,000 characters)")


@strawberry.input(description="The Nagoya Protocol's ABS references of genetic resources.")
class AbsReferencesInput:
    provider_country: str | None = None
    prior_informed_consent: str | None = None
    mutually_agreed_terms: str | None = None
    ircc: str | None = strawberry.field(
        default=None, description="ABSCH-IRCC-<country>-<number>-<version>"
    )


@strawberry.input
class PublishDataUseAgreementInput:
    dataset_id: strawberry.ID
    title: str | None = strawberry.field(default=None, description="Or give `titles`")
    titles: list[LanguageTextInput] | None = texts_input("The title")
    body: str
    abs: AbsReferencesInput | None = None


@strawberry.type
class AccessRequestPayload:
    access_request: AccessRequest | None = None
    errors: list[AccessRequestError] = strawberry.field(default_factory=list)


@strawberry.type
class AccessGrantPayload:
    grant: AccessGrant | None = None
    errors: list[AccessRequestError] = strawberry.field(default_factory=list)


@strawberry.type
class DataUseAgreementPayload:
    agreement: DataUseAgreement | None = None
    errors: list[AccessRequestError] = strawberry.field(default_factory=list)


@strawberry.type
class AgreementAcceptancePayload:
    acceptance: AgreementAcceptance | None = None
    agreement: DataUseAgreement | None = None
    errors: list[AccessRequestError] = strawberry.field(default_factory=list)


@strawberry.type
class PartnerCountryDataPayload:
    dataset: LazyDataset | None = None
    errors: list[AccessRequestError] = strawberry.field(default_factory=list)
