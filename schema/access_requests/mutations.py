"""The access request and agreement mutations; the rules live in
server/access_requests/ (service: requests; decisions: approvals, denials, revocations;
agreements: data use agreements, partner-country data)."""

from __future__ import annotations

import datetime as dt

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession

from schema.access_requests.types import (
    AccessGrant,
    AccessGrantPayload,
    AccessRequest,
    AccessRequestPayload,
    AgreementAcceptance,
    AgreementAcceptancePayload,
    DataUseAgreement,
    DataUseAgreementPayload,
    PartnerCountryDataPayload,
    PublishDataUseAgreementInput,
    RequestDatasetAccessInput,
)
from schema.connections import decode_id
from schema.context import Info
from schema.payloads import payload
from schema.texts import text_values
from server.access.auth import Principal
from server.access_requests import agreements, decisions, service
from server.models import AccessGrant as GrantRow
from server.models import AccessRequest as RequestRow
from server.models import AgreementAcceptance as AcceptanceRow
from server.models import Dataset as DatasetRow
from server.models import DataUseAgreement as AgreementRow


def _request(row: RequestRow) -> AccessRequestPayload:
    return AccessRequestPayload(access_request=AccessRequest.from_row(row))


def _grant(row: GrantRow) -> AccessGrantPayload:
    return AccessGrantPayload(grant=AccessGrant.from_row(row))


def _agreement(row: AgreementRow) -> DataUseAgreementPayload:
    return DataUseAgreementPayload(agreement=DataUseAgreement.from_row(row))


def _dataset(row: DatasetRow) -> PartnerCountryDataPayload:
    from schema.datasets.types import Dataset

    return PartnerCountryDataPayload(dataset=Dataset.from_row(row))


async def _on_request(
    info: Info, request_id: strawberry.ID, decide: service.RequestStep
) -> AccessRequestPayload:
    async def op(session: AsyncSession, principal: Principal) -> RequestRow:
        return await decide(session, principal, decode_id(request_id, "AccessRequest", "requestId"))

    return await payload(info, op, AccessRequestPayload, _request)


@strawberry.type
class AccessRequestMutations:
    @strawberry.mutation(
        description="A signed-in researcher asks for access to a dataset they may not read"
    )
    async def request_dataset_access(
        self, info: Info, input: RequestDatasetAccessInput
    ) -> AccessRequestPayload:
        async def op(session: AsyncSession, principal: Principal) -> RequestRow:
            dataset_id = decode_id(input.dataset_id, "Dataset", "datasetId")
            return await service.request_access(session, principal, dataset_id, input.purpose)

        return await payload(info, op, AccessRequestPayload, _request)

    @strawberry.mutation(
        description="One side's approval (the owner institution's data steward or a project"
        " PI; for partner-country data the Japanese and the partner lead each approve). The"
        " last approval needed gives a grant, ending on `validUntil` (default and longest:"
        " SATREPS_ACCESS_GRANT_DAYS from today). The requester must have accepted the"
        " dataset's current data use agreement first."
    )
    async def approve_access_request(
        self, info: Info, request_id: strawberry.ID, valid_until: dt.date | None = None
    ) -> AccessRequestPayload:
        async def step(session: AsyncSession, principal: Principal, pk: int) -> RequestRow:
            return await decisions.approve_request(session, principal, pk, valid_until)

        return await _on_request(info, request_id, step)

    @strawberry.mutation(description="Deny a request, with a reason the requester sees")
    async def deny_access_request(
        self, info: Info, request_id: strawberry.ID, reason: str
    ) -> AccessRequestPayload:
        async def step(session: AsyncSession, principal: Principal, pk: int) -> RequestRow:
            return await decisions.deny_request(session, principal, pk, reason)

        return await _on_request(info, request_id, step)

    @strawberry.mutation(description="The requester withdraws their open request")
    async def withdraw_access_request(
        self, info: Info, request_id: strawberry.ID
    ) -> AccessRequestPayload:
        return await _on_request(info, request_id, service.withdraw_request)

    @strawberry.mutation(description="End a grant now (the dataset's deciders or an admin)")
    async def revoke_access_grant(
        self, info: Info, grant_id: strawberry.ID, reason: str | None = None
    ) -> AccessGrantPayload:
        async def op(session: AsyncSession, principal: Principal) -> GrantRow:
            pk = decode_id(grant_id, "AccessGrant", "grantId")
            return await decisions.revoke_grant(session, principal, pk, reason)

        return await payload(info, op, AccessGrantPayload, _grant)

    @strawberry.mutation(
        description="A new version of a dataset's data use agreement (the dataset's deciders"
        " or an admin); grants open the data again once their holders accept it"
    )
    async def publish_data_use_agreement(
        self, info: Info, input: PublishDataUseAgreementInput
    ) -> DataUseAgreementPayload:
        async def op(session: AsyncSession, principal: Principal) -> AgreementRow:
            refs = (
                agreements.AbsReferences(
                    provider_country=input.abs.provider_country,
                    prior_informed_consent=input.abs.prior_informed_consent,
                    mutually_agreed_terms=input.abs.mutually_agreed_terms,
                    ircc=input.abs.ircc,
                )
                if input.abs is not None
                else None
            )
            dataset_id = decode_id(input.dataset_id, "Dataset", "datasetId")
            return await agreements.publish_agreement(
                session,
                principal,
                dataset_id,
                input.title,
                input.body,
                refs,
                titles=text_values(input.titles),
            )

        return await payload(info, op, DataUseAgreementPayload, _agreement)

    @strawberry.mutation(
        description="The caller accepts the current version of a data use agreement"
    )
    async def accept_data_use_agreement(
        self, info: Info, agreement_id: strawberry.ID
    ) -> AgreementAcceptancePayload:
        async def op(
            session: AsyncSession, principal: Principal
        ) -> tuple[AcceptanceRow, AgreementRow]:
            pk = decode_id(agreement_id, "DataUseAgreement", "agreementId")
            acceptance = await agreements.accept_agreement(session, principal, pk)
            agreement = await session.get(AgreementRow, pk)
            assert agreement is not None
            return acceptance, agreement

        def done(rows: tuple[AcceptanceRow, AgreementRow]) -> AgreementAcceptancePayload:
            return AgreementAcceptancePayload(
                acceptance=AgreementAcceptance.from_row(rows[0]),
                agreement=DataUseAgreement.from_row(rows[1]),
            )

        return await payload(info, op, AgreementAcceptancePayload, done)

    @strawberry.mutation(
        description="Flag a dataset as partner-country data under a bilateral agreement (or"
        " clear the flag): requests made from then on need dual approval"
    )
    async def set_dataset_partner_country_data(
        self, info: Info, dataset_id: strawberry.ID, partner_country_data: bool
    ) -> PartnerCountryDataPayload:
        async def op(session: AsyncSession, principal: Principal) -> DatasetRow:
            pk = decode_id(dataset_id, "Dataset", "datasetId")
            return await agreements.set_partner_country_data(
                session, principal, pk, partner_country_data
            )

        return await payload(info, op, PartnerCountryDataPayload, _dataset)
