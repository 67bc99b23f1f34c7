"""Per-request dataloaders, named <Result>By<Key>Loader; each batch is one SQL statement."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from typing import TypeAlias, TypeVar, cast

from sqlalchemy.ext.asyncio import AsyncSession
from strawberry.dataloader import DataLoader

from server import models
from server.access.auth import Principal
from server.institutions import queries as institutions
from server.projects import queries as projects
from server.researchers import queries as researchers
from server.themes import queries as themes

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")
L = TypeVar("L")
DbOpener = Callable[[], AbstractAsyncContextManager[AsyncSession]]
# fetch(session, keys) -> {key: result}; a visible fetch takes the principal too
Fetch: TypeAlias = Callable[[AsyncSession, Sequence[K]], Awaitable[Mapping[K, V]]]
VisibleFetch: TypeAlias = Callable[[AsyncSession, Principal, Sequence[K]], Awaitable[Mapping[K, V]]]

# one row per key, None where it is missing or not visible to the caller
CountryByCodeLoader: TypeAlias = DataLoader[str, models.Country | None]
InstitutionByIdLoader: TypeAlias = DataLoader[int, models.Institution | None]
ResearcherByIdLoader: TypeAlias = DataLoader[int, models.Researcher | None]
ThemeByIdLoader: TypeAlias = DataLoader[int, models.Theme | None]
ProjectByIdLoader: TypeAlias = DataLoader[int, models.Project | None]
# a list per key, empty where there is none
AffiliationsByResearcherLoader: TypeAlias = DataLoader[int, list[models.Affiliation]]
ThemesByParentLoader: TypeAlias = DataLoader[int, list[models.Theme]]
SdgsByThemeLoader: TypeAlias = DataLoader[int, list[int]]
ProjectsByThemeLoader: TypeAlias = DataLoader[int, list[models.Project]]
ProjectsByInstitutionLoader: TypeAlias = DataLoader[int, list[models.Project]]
ProjectsByResearcherLoader: TypeAlias = DataLoader[int, list[models.Project]]
ThemesByProjectLoader: TypeAlias = DataLoader[int, list[models.Theme]]
CountriesByProjectLoader: TypeAlias = DataLoader[int, list[models.Country]]
InstitutionLinksByProjectLoader: TypeAlias = DataLoader[
    int, list[tuple[models.ProjectInstitution, models.Institution]]
]
MembersByProjectLoader: TypeAlias = DataLoader[
    int, list[tuple[models.ProjectMember, models.Researcher]]
]
TransitionsByProjectLoader: TypeAlias = DataLoader[int, list[models.PhaseTransition]]


def present(row: V | None) -> V:
    """The row a foreign key points at, loaded by a `<Result>ById` loader: it is there (the
    loader says None only for ids no row holds, which a foreign key never is)."""
    if row is None:
        raise LookupError("a row a foreign key points at is missing")
    return row


def _one(db: DbOpener, fetch: Fetch[K, V]) -> DataLoader[K, V | None]:
    """Loads one row per key; None where the row is missing or not visible to the caller."""

    async def load(keys: list[K]) -> list[V | None]:
        async with db() as session:
            found = await fetch(session, keys)
        return [found.get(k) for k in keys]

    return DataLoader(load_fn=load)


def _many(db: DbOpener, fetch: Fetch[K, list[V]]) -> DataLoader[K, list[V]]:
    """Loads a list per key; empty where there is none."""

    async def load(keys: list[K]) -> list[list[V]]:
        async with db() as session:
            found = await fetch(session, keys)
        return [found.get(k, []) for k in keys]

    return DataLoader(load_fn=load)


def _seen_by(principal: Principal, fetch: VisibleFetch[K, V]) -> Fetch[K, V]:
    """`fetch` limited to what the principal may see."""

    def bound(session: AsyncSession, keys: Sequence[K]) -> Awaitable[Mapping[K, V]]:
        return fetch(session, principal, keys)

    return bound


class Loaders:
    """The loaders of one request. Domain modules may also ask for `one(fetch)` or
    `many(fetch)`: a loader per fetch function, made on first use and kept for the request."""

    def __init__(self, db: DbOpener, principal: Principal) -> None:
        self._db = db
        self._principal = principal
        self._extra: dict[tuple[str, object], object] = {}

        self.country_by_code: CountryByCodeLoader = _one(db, institutions.countries_by_code)
        self.institution_by_id: InstitutionByIdLoader = _one(db, institutions.institutions_by_id)
        self.researcher_by_id: ResearcherByIdLoader = _one(db, researchers.researchers_by_id)
        self.theme_by_id: ThemeByIdLoader = _one(db, themes.themes_by_id)
        self.project_by_id: ProjectByIdLoader = _one(
            db, _seen_by(principal, projects.projects_by_id)
        )
        self.affiliations_by_researcher: AffiliationsByResearcherLoader = _many(
            db, researchers.affiliations_by_researcher
        )
        self.children_by_theme: ThemesByParentLoader = _many(db, themes.children_by_theme)
        self.sdgs_by_theme: SdgsByThemeLoader = _many(db, themes.sdgs_by_theme)
        self.projects_by_theme: ProjectsByThemeLoader = _many(
            db, _seen_by(principal, projects.projects_by_theme)
        )
        self.projects_by_institution: ProjectsByInstitutionLoader = _many(
            db, _seen_by(principal, projects.projects_by_institution)
        )
        self.projects_by_researcher: ProjectsByResearcherLoader = _many(
            db, _seen_by(principal, projects.projects_by_researcher)
        )
        self.themes_by_project: ThemesByProjectLoader = _many(db, projects.themes_by_project)
        self.countries_by_project: CountriesByProjectLoader = _many(
            db, projects.countries_by_project
        )
        self.institutions_by_project: InstitutionLinksByProjectLoader = _many(
            db, projects.institutions_by_project
        )
        self.members_by_project: MembersByProjectLoader = _many(db, projects.members_by_project)
        self.transitions_by_project: TransitionsByProjectLoader = _many(
            db, projects.transitions_by_project
        )

    def one(self, fetch: Fetch[K, V]) -> DataLoader[K, V | None]:
        """fetch(session, keys) -> {key: row}."""
        return self._cached("one", fetch, lambda: _one(self._db, fetch))

    def many(self, fetch: Fetch[K, list[V]]) -> DataLoader[K, list[V]]:
        """fetch(session, keys) -> {key: [rows]}."""
        return self._cached("many", fetch, lambda: _many(self._db, fetch))

    def one_visible(self, fetch: VisibleFetch[K, V]) -> DataLoader[K, V | None]:
        """fetch(session, principal, keys) -> {key: row the principal may see}."""
        bound = _seen_by(self._principal, fetch)
        return self._cached("one_visible", fetch, lambda: _one(self._db, bound))

    def many_visible(self, fetch: VisibleFetch[K, list[V]]) -> DataLoader[K, list[V]]:
        """fetch(session, principal, keys) -> {key: [rows the principal may see]}."""
        bound = _seen_by(self._principal, fetch)
        return self._cached("many_visible", fetch, lambda: _many(self._db, bound))

    def _cached(self, kind: str, fetch: object, make: Callable[[], L]) -> L:
        """The loader of this kind for `fetch`, made once per request: the same fetch
        always makes the same type of loader, so the cast holds."""
        key = (kind, fetch)
        if key not in self._extra:
            self._extra[key] = make()
        return cast(L, self._extra[key])
