"""Per-request dataloaders, named <Result>By<Key>; each batch is one SQL statement."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession
from strawberry.dataloader import DataLoader

from server.access.auth import Principal
from server.institutions import queries as institutions
from server.projects import queries as projects
from server.researchers import queries as researchers
from server.themes import queries as themes

K = TypeVar("K")
V = TypeVar("V")
DbOpener = Callable[[], AbstractAsyncContextManager[AsyncSession]]


def _one(
    db: DbOpener, fetch: Callable[[AsyncSession, Sequence[Any]], Awaitable[Mapping[Any, V]]]
) -> DataLoader[Any, Any]:
    """Loads one row per key; None where the row is missing or not visible to the caller."""

    async def load(keys: list[Any]) -> list[V | None]:
        async with db() as session:
            found = await fetch(session, keys)
        return [found.get(k) for k in keys]

    return DataLoader(load_fn=load)


def _many(
    db: DbOpener, fetch: Callable[[AsyncSession, Sequence[Any]], Awaitable[Mapping[Any, list[V]]]]
) -> DataLoader[Any, list[V]]:
    async def load(keys: list[Any]) -> list[list[V]]:
        async with db() as session:
            found = await fetch(session, keys)
        return [found.get(k, []) for k in keys]

    return DataLoader(load_fn=load)


class Loaders:
    """The loaders of one request. Domain modules may also ask for `one(fetch)` or
    `many(fetch)`: a loader per fetch function, made on first use and kept for the request."""

    def __init__(self, db: DbOpener, principal: Principal) -> None:
        self._db = db
        self._principal = principal
        self._extra: dict[tuple[str, Any], DataLoader[Any, Any]] = {}

        def visible(fetch: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
            return lambda session, keys: fetch(session, principal, keys)

        self.country_by_code = _one(db, institutions.countries_by_code)
        self.institution_by_id = _one(db, institutions.institutions_by_id)
        self.researcher_by_id = _one(db, researchers.researchers_by_id)
        self.theme_by_id = _one(db, themes.themes_by_id)
        self.project_by_id = _one(db, visible(projects.projects_by_id))
        self.affiliations_by_researcher = _many(db, researchers.affiliations_by_researcher)
        self.children_by_theme = _many(db, themes.children_by_theme)
        self.sdgs_by_theme = _many(db, themes.sdgs_by_theme)
        self.projects_by_theme = _many(db, visible(projects.projects_by_theme))
        self.projects_by_institution = _many(db, visible(projects.projects_by_institution))
        self.projects_by_researcher = _many(db, visible(projects.projects_by_researcher))
        self.themes_by_project = _many(db, projects.themes_by_project)
        self.countries_by_project = _many(db, projects.countries_by_project)
        self.institutions_by_project = _many(db, projects.institutions_by_project)
        self.members_by_project = _many(db, projects.members_by_project)
        self.transitions_by_project = _many(db, projects.transitions_by_project)

    def one(self, fetch: Callable[..., Awaitable[Mapping[Any, Any]]]) -> DataLoader[Any, Any]:
        """fetch(session, keys) -> {key: row}."""
        return self._cached("one", fetch, lambda: _one(self._db, fetch))

    def many(
        self, fetch: Callable[..., Awaitable[Mapping[Any, list[Any]]]]
    ) -> DataLoader[Any, Any]:
        """fetch(session, keys) -> {key: [rows]}."""
        return self._cached("many", fetch, lambda: _many(self._db, fetch))

    def one_visible(
        self, fetch: Callable[..., Awaitable[Mapping[Any, Any]]]
    ) -> DataLoader[Any, Any]:
        """fetch(session, principal, keys) -> {key: row the principal may see}."""

        def bound(session: AsyncSession, keys: Sequence[Any]) -> Awaitable[Mapping[Any, Any]]:
            return fetch(session, self._principal, keys)

        return self._cached("one_visible", fetch, lambda: _one(self._db, bound))

    def many_visible(
        self, fetch: Callable[..., Awaitable[Mapping[Any, list[Any]]]]
    ) -> DataLoader[Any, Any]:
        """fetch(session, principal, keys) -> {key: [rows the principal may see]}."""

        def bound(session: AsyncSession, keys: Sequence[Any]) -> Awaitable[Mapping[Any, list[Any]]]:
            return fetch(session, self._principal, keys)

        return self._cached("many_visible", fetch, lambda: _many(self._db, bound))

    def _cached(
        self, kind: str, fetch: Any, make: Callable[[], DataLoader[Any, Any]]
    ) -> DataLoader[Any, Any]:
        key = (kind, fetch)
        if key not in self._extra:
            self._extra[key] = make()
        return self._extra[key]
