"""Global-issue themes, the reads: the tree, its SDGs, a theme's subtree."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Integer, Select, literal, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from server.core.db import group_rows
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
