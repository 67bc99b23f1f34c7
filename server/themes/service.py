"""Global-issue themes: the SATREPS research fields as a tree, mapped to UN SDGs."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.access.auth import Principal
from server.access.permissions import STAFF, require_role
from server.core.errors import Collector, ErrorCode
from server.core.validation import clean_text
from server.models import Theme, ThemeSdg
from server.themes.errors import ThemeErrorCode


def slugify(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")[:64]


async def create_theme(
    session: AsyncSession,
    principal: Principal,
    *,
    name: str,
    parent_id: int | None = None,
    code: str | None = None,
    description: str | None = None,
    sdgs: Sequence[int] = (),
) -> Theme:
    require_role(principal, *STAFF)
    errors = Collector()
    clean_name = clean_text(errors, "name", name, max_len=200, required=True)
    clean_description = clean_text(errors, "description", description, max_len=5000)
    slug = slugify(code or clean_name or "")
    if code is not None and slug != code:
        errors.add(
            ThemeErrorCode.INVALID_CODE, "code may hold only a-z, 0-9 and '-' (64 at most)", "code"
        )
    elif not slug and clean_name:
        errors.add(
            ThemeErrorCode.INVALID_CODE, "give a code: none can be derived from the name", "code"
        )
    elif slug and await session.scalar(select(Theme.id).where(Theme.code == slug)):
        errors.add(ThemeErrorCode.DUPLICATE_CODE, f"a theme with code {slug!r} exists", "code")
    if parent_id is not None and await session.get(Theme, parent_id) is None:
        errors.add(ErrorCode.NOT_FOUND, "parent theme not found", "parentId")
    bad = sorted({g for g in sdgs if not 1 <= g <= 17})
    if bad:
        errors.add(ThemeErrorCode.INVALID_SDG, f"SDGs are numbered 1 to 17, not {bad}", "sdgs")
    errors.raise_if_any()
    theme = Theme(code=slug, name=clean_name, description=clean_description, parent_id=parent_id)
    session.add(theme)
    await session.flush()
    session.add_all([ThemeSdg(theme_id=theme.id, sdg=g) for g in sorted(set(sdgs))])
    await session.flush()
    return theme
