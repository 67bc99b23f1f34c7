"""Reading owners' language-tagged texts, a batch of owners per statement (dataloaders)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.models import LanguageText
from server.models.texts import OWNER_COLUMNS

TextsFetch = Callable[[AsyncSession, Sequence[int]], Awaitable[Mapping[int, list[LanguageText]]]]


def _texts_of(owner: str) -> TextsFetch:
    column = getattr(LanguageText, f"{owner}_id")

    async def fetch(session: AsyncSession, ids: Sequence[int]) -> dict[int, list[LanguageText]]:
        rows = await session.scalars(
            select(LanguageText)
            .where(column.in_(ids))
            .order_by(LanguageText.position, LanguageText.id)
        )
        found: dict[int, list[LanguageText]] = {}
        for row in rows:
            found.setdefault(getattr(row, f"{owner}_id"), []).append(row)
        return found

    return fetch


# one fetch per owner, the same function every time (a request's loader is kept per fetch)
TEXTS_BY_OWNER: dict[str, TextsFetch] = {
    column.removesuffix("_id"): _texts_of(column.removesuffix("_id")) for column in OWNER_COLUMNS
}
