"""Institutions: the rules and writes."""

from __future__ import annotations

import unicodedata
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.access.auth import Principal
from server.access.permissions import STAFF, require_role
from server.core.db import utcnow
from server.core.errors import Collector, DomainError, ErrorCode, NotFound
from server.core.global_ids import global_id
from server.core.validation import check_url, clean_text, normalize_country, normalize_ror
from server.institutions.errors import InstitutionErrorCode
from server.models import Institution
from server.texts.names import check_names, write_names
from server.texts.service import check_text_field, write_texts


async def _check_fields(
    session: AsyncSession, values: dict[str, Any], *, creating: bool, own_id: int | None = None
) -> dict[str, Any]:
    errors = Collector()
    out: dict[str, Any] = {}
    names = check_names(errors, values)
    if names is not None:
        out["names"] = names
        out["name_en"], out["name_local"] = names.name_en, names.name_local
    elif "names" in values:
        pass  # refused: its errors are recorded
    elif creating or "name_en" in values:
        out["name_en"] = clean_text(
            errors, "nameEn", values.get("name_en"), max_len=300, required=True
        )
    if "name_local" in values and "names" not in values:
        out["name_local"] = clean_text(errors, "nameLocal", values["name_local"], max_len=300)
    acronym = check_text_field(errors, values, "acronym", "acronyms", max_len=32)
    if acronym is not None:
        out["acronym"], out["acronym_texts"] = acronym.column, acronym
    if "website" in values:
        out["website"] = check_url(errors, "website", values["website"])
    if "kind" in values or creating:
        if values.get("kind") is None:
            errors.add(ErrorCode.REQUIRED, "kind is required", "kind")
        out["kind"] = values.get("kind")
    if creating or "country" in values:
        code = normalize_country(values.get("country") or "")
        if code is None:
            errors.add(
                ErrorCode.INVALID_COUNTRY, "country must be an ISO 3166-1 alpha-2 code", "country"
            )
        out["country_code"] = code
    if values.get("ror_id"):
        ror = normalize_ror(values["ror_id"])
        if ror is None:
            errors.add(
                InstitutionErrorCode.INVALID_ROR, "rorId is not a valid ROR identifier", "rorId"
            )
        else:
            clash = await session.scalar(select(Institution.id).where(Institution.ror_id == ror))
            if clash is not None and clash != own_id:
                errors.add(
                    InstitutionErrorCode.DUPLICATE_ROR,
                    "another institution has this ROR id",
                    "rorId",
                )
        out["ror_id"] = ror
    elif "ror_id" in values:
        out["ror_id"] = None
    errors.raise_if_any()
    return out


def name_key(name: str) -> str:
    """A name as the duplicate rule compares it: Unicode NFKC, case-folded, runs of white
    space as one space ("ＫＹＯＴＯ  university" is "kyoto university")."""
    return " ".join(unicodedata.normalize("NFKC", name).casefold().split())


async def _check_not_a_duplicate(
    session: AsyncSession,
    name_en: str,
    country: str,
    ror_id: str | None,
    *,
    own_id: int | None = None,
) -> None:
    """Refuse a second institution of the same name in the same country (DUPLICATE_NAME
    with the existing one's global id) unless both carry ROR ids, which tell them apart:
    the caller says it is a different body with differentBody."""
    key = name_key(name_en)
    rows = await session.execute(
        select(Institution.id, Institution.name_en, Institution.ror_id).where(
            Institution.country_code == country
        )
    )
    for pk, other_name, other_ror in rows:
        if pk == own_id or name_key(other_name) != key or (ror_id and other_ror):
            continue
        raise DomainError.one(
            InstitutionErrorCode.DUPLICATE_INSTITUTION,
            f"an institution named {other_name!r} exists in {country}"
            f" ({global_id('Institution', pk)}); if this is a different body,"
            " say so with differentBody: true",
            "nameEn",
        )


async def create_institution(
    session: AsyncSession, principal: Principal, values: dict[str, Any]
) -> Institution:
    require_role(principal, *STAFF)
    fields = await _check_fields(session, values, creating=True)
    if not values.get("different_body"):
        await _check_not_a_duplicate(
            session, fields["name_en"], fields["country_code"], fields.get("ror_id")
        )
    names = fields.pop("names", None)
    acronym = fields.pop("acronym_texts", None)
    institution = Institution(**fields)
    session.add(institution)
    await session.flush()
    await write_names(session, "institution", institution, names, True, institution.country_code)
    await write_texts(session, "institution", institution.id, [acronym])
    return institution


async def update_institution(
    session: AsyncSession, principal: Principal, institution_id: int, values: dict[str, Any]
) -> Institution:
    require_role(principal, *STAFF)
    institution = await session.get(Institution, institution_id)
    if institution is None:
        raise NotFound("institution")
    fields = await _check_fields(session, values, creating=False, own_id=institution_id)
    if not fields:
        raise DomainError.one(ErrorCode.NOTHING_TO_UPDATE, "no field to update was given")
    renamed = {"name_en", "country_code", "ror_id"} & fields.keys()
    if renamed and not values.get("different_body"):
        await _check_not_a_duplicate(
            session,
            fields.get("name_en", institution.name_en),
            fields.get("country_code", institution.country_code),
            fields.get("ror_id", institution.ror_id),
            own_id=institution.id,
        )
    names = fields.pop("names", None)
    acronym = fields.pop("acronym_texts", None)
    for key, value in fields.items():
        setattr(institution, key, value)
    institution.updated_at = utcnow()
    await session.flush()
    written = bool({"name_en", "name_local", "country_code"} & fields.keys())
    await write_names(session, "institution", institution, names, written, institution.country_code)
    await write_texts(session, "institution", institution.id, [acronym])
    return institution
