"""Global-issue themes: the queries."""

from __future__ import annotations

import strawberry

from schema.context import Info
from schema.errors import read
from schema.themes.types import Theme
from server.themes import queries


@strawberry.type
class ThemeQueries:
    @strawberry.field(description="All themes in id order, or only the roots of the tree.")
    async def themes(self, info: Info, roots_only: bool = False) -> list[Theme]:
        rows = await read(info, queries.list_themes)
        return [Theme.from_row(r) for r in rows if not roots_only or r.parent_id is None]
