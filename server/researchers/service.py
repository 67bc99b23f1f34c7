"""Researchers and their affiliations: the rules and writes."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.access.auth import Principal
from server.access.permissions import CURATORS, STAFF, require_role, require_signed_in
from server.core.errors import Collector, ErrorCode, Forbidden, NotFound
from server.core.validation import (
    check_email,
    check_period,
    clean_text,
    normalize_orcid,
    orcid_problem,
)
from server.models import Affiliation, Institution, Researcher
from server.models.enums import AccountRole
from server.researchers.errors import ResearcherErrorCode
from server.texts.names import check_names, write_names

ORCID_ERRORS = {
    "format": (
        ResearcherErrorCode.INVALID_ORCID,
        "orcid is not in the ORCID iD format (16 digits in groups of four, the last may be X,"
        " e.g. 0000-0002-1825-0097 or https://orcid.org/0000-0002-1825-0097)",
    ),
    "checksum": (
        ResearcherErrorCode.INVALID_ORCID_CHECKSUM,
        "orcid has a wrong check digit (ISO 7064 MOD 11-2): a digit is mistyped",
    ),
    "range": (
        ResearcherErrorCode.INVALID_ORCID,
        "orcid is outside the ranges ORCID issues iDs from (an ISNI, not an ORCID iD?)",
    ),
}


async def create_researcher(
    session: AsyncSession, principal: Principal, values: dict[str, Any]
) -> Researcher:
    require_role(principal, *CURATORS)
    errors = Collector()
    names = check_names(errors, values)
    name_en: str | None
    name_local: str | None
    if names is not None:
        name_en, name_local = names.name_en, names.name_local
    elif "names" in values and values["names"] is not None:
        name_en = name_local = None  # refused: its errors are recorded
    else:
        name_en = clean_text(errors, "nameEn", values.get("name_en"), max_len=300, required=True)
        name_local = clean_text(errors, "nameLocal", values.get("name_local"), max_len=300)
    email = check_email(errors, "email", values.get("email"))
    orcid = None
    if values.get("orcid"):
        orcid = normalize_orcid(values["orcid"])
        if orcid is None:
            code, message = ORCID_ERRORS[orcid_problem(values["orcid"]) or "format"]
            errors.add(code, message, "orcid")
        elif await session.scalar(select(Researcher.id).where(Researcher.orcid == orcid)):
            errors.add(
                ResearcherErrorCode.DUPLICATE_ORCID,
                "a researcher with this ORCID iD exists",
                "orcid",
            )
    errors.raise_if_any()
    researcher = Researcher(name_en=name_en, name_local=name_local, email=email, orcid=orcid)
    session.add(researcher)
    await session.flush()
    await write_names(session, "researcher", researcher, names, True)
    return researcher


async def add_affiliation(
    session: AsyncSession,
    principal: Principal,
    researcher_id: int,
    institution_id: int,
    *,
    title: str | None = None,
    start_date: dt.date | None = None,
    end_date: dt.date | None = None,
) -> Affiliation:
    require_signed_in(principal)
    own_profile = (
        principal.role == AccountRole.RESEARCHER and principal.researcher_id == researcher_id
    )
    if not (own_profile or principal.has_role(*STAFF)):
        raise Forbidden("only staff or the researcher themselves may add an affiliation")
    if await session.get(Researcher, researcher_id) is None:
        raise NotFound("researcher", "researcherId")
    errors = Collector()
    if await session.get(Institution, institution_id) is None:
        errors.add(ErrorCode.NOT_FOUND, "institution not found", "institutionId")
    clean_title = clean_text(errors, "title", title, max_len=200)
    check_period(errors, start_date, end_date)
    errors.raise_if_any()
    affiliation = Affiliation(
        researcher_id=researcher_id,
        institution_id=institution_id,
        title=clean_title,
        start_date=start_date,
        end_date=end_date,
    )
    session.add(affiliation)
    await session.flush()
    return affiliation
