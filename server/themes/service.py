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
from server.core.languages import UNDETERMINED
from server.models import Theme, ThemeSdg
from server.texts.service import TextValue, check_text_field, write_text
from server.themes.errors import ThemeErrorCode


def slugify(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")[:64]


async def create_theme(
    session: AsyncSession,
    principal: Principal,
    *,
    name: str | None = None,
    parent_id: int | None = None,
    code: str | None = None,
    description: str | None = None,
    sdgs: Sequence[int] = (),
    names: Sequence[TextValue] | None = None,
    descriptions: Sequence[TextValue] | None = None,
) -> Theme:
    require_role(principal, *STAFF)
    errors = Collector()
    values: dict[str, object] = {"name": name, "description": description}
    if names is not None:
        values["names"] = names
        if name is None:
            del values["name"]
    if descriptions is not None:
        values["descriptions"] = descriptions
        if description is None:
            del values["description"]
    texts = [
        check_text_field(
            errors, values, "name", "names", max_len=200, required=True, creating=True
        ),
        check_text_field(errors, values, "description", "descriptions", max_len=5000),
    ]
    clean_name = texts[0].column if texts[0] is not None else None
    clean_description = texts[1].column if texts[1] is not None else None
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
    for pending in texts:
        if pending is not None:
            await write_text(session, "theme", theme.id, pending, UNDETERMINED)
    return theme
