"""Global-issue themes: the SATREPS research fields as a tree, mapped to UN SDGs."""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Integer, Select, literal, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from server.access.auth import Principal
from server.access.permissions import STAFF, require_role
from server.core.db import group_rows
from server.core.errors import Collector
from server.core.validation import clean_text
from server.models import Theme, ThemeSdg


async def list_themes(session: AsyncSession) -> Sequence[Theme]:
    return (await session.scalars(select(Theme).order_by(Theme.id))).all()


async def themes_by_id(session: AsyncSession, ids: Sequence[int]) -> dict[int, Theme]:
    rows = await session.scalars(select(Theme).where(Theme.id.in_(ids)))
    return {t.id: t for t in rows}


async def children_by_theme(session: AsyncSession, ids: Sequence[int]) -> dict[int, list[Theme]]:
    rows = await session.execute(
        select(Theme.parent_id, Theme).where(Theme.parent_id.in_(ids)).order_by(Theme.id)
    )
    return group_rows(rows)


async def sdgs_by_theme(session: AsyncSession, ids: Sequence[int]) -> dict[int, list[int]]:
    rows = await session.execute(
        select(ThemeSdg.theme_id, ThemeSdg.sdg)
        .where(ThemeSdg.theme_id.in_(ids))
        .order_by(ThemeSdg.sdg)
    )
    return group_rows(rows)


async def theme_subtree_ids(session: AsyncSession, theme_id: int) -> list[int]:
    """The theme and all its descendants (the tree is small: walk it in memory)."""
    rows = (await session.execute(select(Theme.id, Theme.parent_id))).all()
    children: dict[int | None, list[int]] = defaultdict(list)
    for tid, parent in rows:
        children[parent].append(tid)
    found, stack = [], [theme_id]
    while stack:
        current = stack.pop()
        found.append(current)
        stack.extend(children[current])
    return found


def theme_subtree(theme_id: int) -> Select[Any]:
    """The ids of `theme_subtree_ids` as a select (a recursive CTE), for a statement built
    without a session: the database walks the tree when the statement runs. The CTE is
    anonymous: statements that name two themes (fused into one) get one name each."""
    tree = select(literal(theme_id, Integer).label("id")).cte(recursive=True)
    child = aliased(Theme)
    tree = tree.union(select(child.id).where(child.parent_id == tree.c.id))
    return select(tree.c.id)


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
        errors.add("INVALID_CODE", "code may hold only a-z, 0-9 and '-' (64 at most)", "code")
    elif not slug and clean_name:
        errors.add("INVALID_CODE", "give a code: none can be derived from the name", "code")
    elif slug and await session.scalar(select(Theme.id).where(Theme.code == slug)):
        errors.add("DUPLICATE_CODE", f"a theme with code {slug!r} exists", "code")
    if parent_id is not None and await session.get(Theme, parent_id) is None:
        errors.add("NOT_FOUND", "parent theme not found", "parentId")
    bad = sorted({g for g in sdgs if not 1 <= g <= 17})
    if bad:
        errors.add("INVALID_SDG", f"SDGs are numbered 1 to 17, not {bad}", "sdgs")
    errors.raise_if_any()
    theme = Theme(code=slug, name=clean_name, description=clean_description, parent_id=parent_id)
    session.add(theme)
    await session.flush()
    session.add_all([ThemeSdg(theme_id=theme.id, sdg=g) for g in sorted(set(sdgs))])
    await session.flush()
    return theme
