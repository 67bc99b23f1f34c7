"""Data use agreements: a dataset's deciders publish its terms in versions (with the Nagoya
Protocol's ABS references, checked: an IRCC's country is the provider's), a researcher
accepts the current version (recorded in the dataset's PROV), and a decider flags a dataset
as partner-country data (requests from then on need both leads). The events go through
`service.announce`."""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from server.access.auth import Principal
from server.access.permissions import require_signed_in
from server.access_requests.errors import AccessRequestErrorCode
from server.access_requests.service import (
    AGREEMENT_ACCEPTED,
    AGREEMENT_PUBLISHED,
    announce,
    current_agreement,
    has_accepted,
    is_decider,
    reachable_dataset,
    require_researcher,
)
from server.core.db import utcnow
from server.core.errors import Collector, DomainError, ErrorCode, Forbidden, NotFound
from server.core.validation import clean_text, normalize_country
from server.models import AgreementAcceptance, Dataset, DataUseAgreement
from server.provenance.decisions import record_agreement_acceptance
from server.texts.service import TextValue, check_text_field, sent_text, write_texts

IRCC_RE = re.compile(r"^ABSCH-IRCC-([A-Z]{2})-(\d{1,10})-(\d{1,4})$")


@dataclass(frozen=True)
class AbsReferences:
    """The Nagoya Protocol's access and benefit-sharing references of genetic resources."""

    provider_country: str | None = None
    prior_informed_consent: str | None = None
    mutually_agreed_terms: str | None = None
    ircc: str | None = None


def _check_abs(errors: Collector, refs: AbsReferences | None) -> dict[str, str | None]:
    if refs is None:
        return {}
    country = None
    if refs.provider_country is not None and refs.provider_country.strip():
        country = normalize_country(refs.provider_country)
        if country is None:
            errors.add(
                ErrorCode.INVALID_COUNTRY,
                "not an ISO 3166-1 alpha-2 country code",
                "abs.providerCountry",
            )
    ircc = None
    if refs.ircc is not None and refs.ircc.strip():
        ircc = refs.ircc.strip().upper()
        match = IRCC_RE.match(ircc)
        if match is None:
            errors.add(
                AccessRequestErrorCode.INVALID_IRCC,
                "an IRCC identifier reads ABSCH-IRCC-<country>-<number>-<version>,"
                " e.g. ABSCH-IRCC-IN-239750-1",
                "abs.ircc",
            )
        elif country is not None and match.group(1) != country:
            errors.add(
                AccessRequestErrorCode.ABS_COUNTRY_MISMATCH,
                f"the certificate was issued by {match.group(1)}, not by the provider {country}",
                "abs.ircc",
            )
    return {
        "abs_provider_country": country,
        "abs_pic_ref": clean_text(
            errors, "abs.priorInformedConsent", refs.prior_informed_consent, max_len=500
        ),
        "abs_mat_ref": clean_text(
            errors, "abs.mutuallyAgreedTerms", refs.mutually_agreed_terms, max_len=500
        ),
        "abs_ircc": ircc,
    }


async def publish_agreement(
    session: AsyncSession,
    principal: Principal,
    dataset_id: int,
    title: str | None,
    body: str | None,
    abs_refs: AbsReferences | None = None,
    *,
    titles: list[TextValue] | None = None,
) -> DataUseAgreement:
    """A new version of the dataset's data use agreement (the first, or the next): grants
    are usable again once their holders accept it. Its title: one value (the original, in
    `und`) or `titles` in each language."""
    require_signed_in(principal)
    errors = Collector()
    sent = sent_text("title", "titles", title, titles)
    clean_title = check_text_field(
        errors, sent, "title", "titles", max_len=500, required=True, creating=True
    )
    clean_body = clean_text(errors, "body", body, max_len=100_000, required=True)
    abs_values = _check_abs(errors, abs_refs)
    errors.raise_if_any()
    dataset = await reachable_dataset(session, principal, dataset_id)
    if not await is_decider(session, principal, dataset.id):
        raise Forbidden("only the dataset's deciders (data stewards, PIs) or an admin set terms")
    latest = await session.scalar(
        select(func.max(DataUseAgreement.version)).where(DataUseAgreement.dataset_id == dataset.id)
    )
    agreement = DataUseAgreement(
        dataset_id=dataset.id,
        version=(latest or 0) + 1,
        title=clean_title.column if clean_title is not None else None,
        body=clean_body,
        created_by=principal.account_id,
        created_at=utcnow(),
        **abs_values,
    )
    session.add(agreement)
    await session.flush()
    await write_texts(session, "agreement", agreement.id, [clean_title])
    await announce(session, principal, AGREEMENT_PUBLISHED, agreement, version=agreement.version)
    return agreement


async def accept_agreement(
    session: AsyncSession, principal: Principal, agreement_id: int
) -> AgreementAcceptance:
    """The caller accepts one version of an agreement: the current one only. Recorded in the
    dataset's PROV (an activity using the agreement, associated with the researcher)."""
    require_signed_in(principal)
    agreement = await session.get(DataUseAgreement, agreement_id)
    if agreement is None or not await _may_read_terms(session, principal, agreement.dataset_id):
        raise NotFound("agreement", "agreementId")
    researcher_id = require_researcher(principal)
    current = await current_agreement(session, agreement.dataset_id)
    if current is not None and current.id != agreement.id:
        raise DomainError.one(
            AccessRequestErrorCode.AGREEMENT_SUPERSEDED,
            f"version {current.version} replaced this one: accept it instead",
            "agreementId",
        )
    if await has_accepted(session, agreement.id, researcher_id):
        raise DomainError.one(
            AccessRequestErrorCode.ALREADY_ACCEPTED,
            "you accepted this version already",
            "agreementId",
        )
    acceptance = AgreementAcceptance(
        agreement_id=agreement.id,
        researcher_id=researcher_id,
        account_id=principal.account_id,
        accepted_at=utcnow(),
    )
    session.add(acceptance)
    await session.flush()
    dataset = await session.get(Dataset, agreement.dataset_id)
    assert dataset is not None  # the agreement's foreign key
    await record_agreement_acceptance(session, principal, dataset, agreement, acceptance)
    await announce(
        session,
        principal,
        AGREEMENT_ACCEPTED,
        agreement,
        version=agreement.version,
        researcherId=researcher_id,
    )
    return acceptance


async def _may_read_terms(session: AsyncSession, principal: Principal, dataset_id: int) -> bool:
    """A dataset's terms are for anyone who may ask for access to it (its project is
    visible): one may accept them before asking."""
    try:
        await reachable_dataset(session, principal, dataset_id)
    except DomainError:
        return False
    return True


async def set_partner_country_data(
    session: AsyncSession, principal: Principal, dataset_id: int, flag: bool
) -> Dataset:
    """Flag a dataset as partner-country data under a bilateral agreement (requests made
    from now on need the Japanese and the partner lead), or clear the flag."""
    require_signed_in(principal)
    dataset = await reachable_dataset(session, principal, dataset_id)
    if not await is_decider(session, principal, dataset.id):
        raise Forbidden("only the dataset's deciders (data stewards, PIs) or an admin do this")
    dataset.partner_country_data = flag
    dataset.updated_at = utcnow()
    await session.flush()
    return dataset
