"""Learning materials: the seminar materials and digital contents a project produces (the
JICA-Net library of the seed), catalogued with language, audience and licence.

The files themselves go through the upload pipeline (issue 4) once it exists: a material
will then get its file objects there. Until then a material is a catalogue record with an
optional link (`url`) and no file fields.

Reads follow the project: a material is visible iff its project is.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.access.auth import Principal
from server.access.permissions import require_signed_in
from server.access.visibility import project_visible
from server.core.db import utcnow
from server.core.errors import Collector, DomainError, ErrorCode, NotFound
from server.core.languages import UNDETERMINED, LanguageError, standard_tag
from server.core.validation import check_url, clean_text, normalize_licence
from server.materials.errors import MaterialErrorCode
from server.materials.languages import normalize_language
from server.models import LearningMaterial, Project
from server.projects.service import require_project_editor, visible_project
from server.texts.service import PendingText, check_text_field, write_text

LICENCE_MAX = 100  # learning_materials.licence is String(100)


# ---- operations --------------------------------------------------------------------


def _check_fields(
    values: dict[str, Any], *, creating: bool
) -> tuple[dict[str, Any], PendingText | None]:
    errors = Collector()
    out: dict[str, Any] = {}
    title = check_text_field(
        errors, values, "title", "titles", max_len=500, required=True, creating=creating
    )
    if title is not None:
        out["title"] = title.column
    if creating or "kind" in values:
        if values.get("kind") is None:
            errors.add(ErrorCode.REQUIRED, "kind is required", "kind")
        out["kind"] = values.get("kind")
    if creating or "language" in values:
        raw = clean_text(errors, "language", values.get("language"), max_len=100, required=True)
        code = normalize_language(raw) if raw else None
        if raw and code is None:
            errors.add(
                MaterialErrorCode.INVALID_LANGUAGE,
                "language must be an ISO 639-1 (two-letter) or ISO 639-3 (three-letter) code",
                "language",
            )
        out["language"] = code
    if "audience" in values:
        out["audience"] = clean_text(errors, "audience", values["audience"], max_len=200)
    if creating or "licence" in values:
        raw = clean_text(errors, "licence", values.get("licence"), max_len=500, required=True)
        expression = normalize_licence(raw) if raw else None
        if raw and expression is None:
            errors.add(
                ErrorCode.INVALID_LICENCE, "licence must be an SPDX license expression", "licence"
            )
        elif expression is not None and len(expression) > LICENCE_MAX:
            errors.add(
                ErrorCode.TOO_LONG, f"licence is longer than {LICENCE_MAX} characters", "licence"
            )
        out["licence"] = expression
    if "url" in values:
        out["url"] = check_url(errors, "url", values["url"])
    errors.raise_if_any()
    return out, title


async def _write_title(
    session: AsyncSession, material: LearningMaterial, title: PendingText | None
) -> None:
    """A title written as one value is in the material's language."""
    if title is None:
        return
    try:
        lang = standard_tag(material.language)
    except LanguageError:
        lang = UNDETERMINED
    await write_text(session, "material", material.id, title, lang)


async def add_material(
    session: AsyncSession, principal: Principal, project_id: int, values: dict[str, Any]
) -> LearningMaterial:
    """`values`: title, kind, language, licence, audience?, url?."""
    require_signed_in(principal)
    project = await visible_project(session, principal, project_id)
    await require_project_editor(session, principal, project)
    fields, title = _check_fields(values, creating=True)
    material = LearningMaterial(project_id=project.id, **fields)
    session.add(material)
    project.updated_at = utcnow()
    await session.flush()
    await _write_title(session, material, title)
    return material


async def update_material(
    session: AsyncSession, principal: Principal, material_id: int, values: dict[str, Any]
) -> LearningMaterial:
    require_signed_in(principal)
    row = (
        await session.execute(
            select(LearningMaterial, Project)
            .join(Project, Project.id == LearningMaterial.project_id)
            .where(LearningMaterial.id == material_id, project_visible(principal))
        )
    ).first()
    if row is None:
        raise NotFound("learning material")
    material, project = row
    await require_project_editor(session, principal, project)
    fields, title = _check_fields(values, creating=False)
    if not fields:
        raise DomainError.one(ErrorCode.NOTHING_TO_UPDATE, "no field to update was given")
    for key, value in fields.items():
        setattr(material, key, value)
    project.updated_at = utcnow()
    await session.flush()
    await _write_title(session, material, title)
    return material
