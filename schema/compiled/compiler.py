"""GraphQL selections compiled into SQL expressions that build their JSON (the root fields
that use them are in schema/compiled/roots.py).

Types map to tables, fields to columns, relationships, connections and expressions of
the model; the access rules of `server.access.visibility` go into the statement as SQL.
Every level of nesting reads through aliases of its own, so no subquery is ever correlated
by mistake.
Anything outside the map, and any argument strawberry would answer with an error, raises
NotCompilable: strawberry then resolves the field as before, errors and all.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from graphql import GraphQLObjectType
from graphql.execution.collect_fields import FieldDetailsList
from graphql.execution.values import get_argument_values
from sqlalchemy import ColumnElement, case, exists, func, literal_column, select, true
from sqlalchemy.orm import aliased

from schema.compiled.mapping import FIELDS
from schema.compiled.sqljson import NotCompilable, SqlJson, sql_text
from server import models as m
from server.access.auth import Principal
from server.access.visibility import (
    dataset_readable,
    dataset_visible,
    email_visible,
    project_visible,
)
from server.models.enums import (
    VersionState,
)


def today() -> dt.date:
    """The date the access rules compare embargoes with (as server.access.visibility does)."""
    return dt.datetime.now(dt.UTC).date()


def principal_key(principal: Principal) -> tuple[Any, ...]:
    """What of the principal the compiled statements depend on (their access rules and
    the e-mail rule): principals alike in these share plans."""
    return (
        principal.role,  # `me` answers it
        principal.is_staff,
        principal.is_admin,  # admins alone read all data (dataset_readable)
        principal.is_authenticated,
        principal.researcher_id,
        principal.institution_id,
    )


Builder = Callable[["Compiler", Any, FieldDetailsList, dict[str, Any]], ColumnElement[Any]]


@dataclass
class Compiler:
    """Compiles one root field of one request: the executor gives fragments, variables and
    arguments exactly as graphql-core would use them."""

    executor: Any
    principal: Principal
    json: SqlJson
    _visible_cte: Any = None

    def object(self, type_name: str, row: Any, details: FieldDetailsList) -> ColumnElement[Any]:
        """The JSON object of `type_name` for the row (an alias) with the selection of
        `details`, built from the columns and nested statements of the type's fields."""
        fields = FIELDS.get(type_name)
        if fields is None:
            raise NotCompilable(type_name)
        gtype = self.executor.schema.get_type(type_name)

        def value(name: str, sub: FieldDetailsList) -> ColumnElement[Any]:
            build = fields.get(name)
            if build is None:
                raise NotCompilable(f"{type_name}.{name}")
            return build(self, row, sub, self.arguments(gtype, sub))

        return self.selection(type_name, details, value)

    def selection(
        self,
        type_name: str,
        details: FieldDetailsList,
        value: Callable[[str, FieldDetailsList], ColumnElement[Any]],
    ) -> ColumnElement[Any]:
        """The JSON object of the selection of `details` on the object type `type_name`:
        `__typename`, and `value(field name, its details)` for every other field (which
        raises NotCompilable for a field it cannot answer)."""
        gtype = self.executor.schema.get_type(type_name)
        if not isinstance(gtype, GraphQLObjectType):
            raise NotCompilable(type_name)
        collected = self.executor.collect_subfields(gtype, details)
        if collected.new_defer_usages or collected.forbidden_directive_instances:
            raise NotCompilable("@defer / @stream")
        pairs: list[tuple[str, ColumnElement[Any]]] = []
        for response_name, sub in collected.grouped_field_set.items():
            name = sub[0].node.name.value
            pairs.append(
                (response_name, sql_text(type_name) if name == "__typename" else value(name, sub))
            )
        return self.json.obj(pairs)

    def arguments(self, gtype: GraphQLObjectType, details: FieldDetailsList) -> dict[str, Any]:
        first = details[0]
        field_def = gtype.fields[first.node.name.value]
        if not field_def.args and not first.node.arguments:
            return {}
        return get_argument_values(
            field_def,
            first.node,
            self.executor.variable_values,
            first.fragment_variable_values,
            self.executor.hide_suggestions,
        )

    def visible(self, project: Any) -> ColumnElement[bool]:
        return project_visible(self.principal, project)

    def dataset_visible(self, dataset: Any) -> ColumnElement[bool]:
        """The datasets the principal may see (their metadata), as of today: plans that
        use it are keyed by the date too (embargoes pass with it)."""
        return dataset_visible(self.principal, None, dataset)

    def dataset_readable(self, dataset: Any) -> ColumnElement[bool]:
        """The datasets whose data the principal may read (profiles), as of today."""
        return dataset_readable(self.principal, None, dataset)

    def visible_set(self, project: Any) -> ColumnElement[bool]:
        """`visible` for lists nested in lists: the projects the principal may see are
        worked out once per statement (a materialised CTE), not per outer row."""
        if self.principal.is_staff:
            return true()
        if self._visible_cte is None:
            rule = select(m.Project.id).where(project_visible(self.principal))
            self._visible_cte = rule.cte("visible_projects").prefix_with("MATERIALIZED")
        return project.id.in_(select(self._visible_cte.c.id))

    def project_list(
        self, details: FieldDetailsList, link: Any, link_key: Any, outer_key: Any
    ) -> ColumnElement[Any]:
        """The projects joined to the outer row through a link table, that the principal
        may see, in id order (the dataloaders' order)."""
        project = aliased(m.Project)
        rows = (
            select(project)
            .select_from(link)
            .join(project, project.id == link.project_id)
            .where(link_key == outer_key, self.visible_set(project))
        )
        return self.json.array(rows, self.object("Project", project, details), [project.id])


def column(name: str) -> Builder:
    return lambda c, row, details, args: getattr(row, name)


def as_datetime(name: str) -> Builder:
    return lambda c, row, details, args: c.json.datetime(getattr(row, name))


def as_date(name: str) -> Builder:
    return lambda c, row, details, args: c.json.date(getattr(row, name))


def as_enum(name: str, enum_cls: Any) -> Builder:
    return lambda c, row, details, args: c.json.enum(getattr(row, name), enum_cls)


def global_id(type_name: str) -> Builder:
    return lambda c, row, details, args: c.json.global_id(type_name, row.id)


def prefixed_url(name: str, prefix: str) -> Builder:
    def build(c: Compiler, row: Any, details: FieldDetailsList, args: Any) -> Any:
        value = getattr(row, name)
        return func.nullif(sql_text(prefix).op("||")(func.coalesce(value, "")), prefix)

    return build


# --- Theme ---------------------------------------------------------------------------


def theme_parent(c: Compiler, row: Any, details: FieldDetailsList, args: Any) -> Any:
    parent = aliased(m.Theme)
    rows = select(parent).where(parent.id == row.parent_id)
    return c.json.one(rows, c.object("Theme", parent, details))


def theme_children(c: Compiler, row: Any, details: FieldDetailsList, args: Any) -> Any:
    child = aliased(m.Theme)
    rows = select(child).where(child.parent_id == row.id)
    return c.json.array(rows, c.object("Theme", child, details), [child.id])


def theme_sdgs(c: Compiler, row: Any, details: FieldDetailsList, args: Any) -> Any:
    sdg = aliased(m.ThemeSdg)
    return c.json.array(select(sdg).where(sdg.theme_id == row.id), sdg.sdg, [sdg.sdg])


def theme_projects(c: Compiler, row: Any, details: FieldDetailsList, args: Any) -> Any:
    link = aliased(m.ProjectTheme)
    return c.project_list(details, link, link.theme_id, row.id)


# --- Country and institution ------------------------------------------------------------


def country_of(key: str) -> Builder:
    def build(c: Compiler, row: Any, details: FieldDetailsList, args: Any) -> Any:
        country = aliased(m.Country)
        rows = select(country).where(country.code == getattr(row, key))
        return c.json.one(rows, c.object("Country", country, details))

    return build


def institution_of(key: str) -> Builder:
    def build(c: Compiler, row: Any, details: FieldDetailsList, args: Any) -> Any:
        institution = aliased(m.Institution)
        rows = select(institution).where(institution.id == getattr(row, key))
        return c.json.one(rows, c.object("Institution", institution, details))

    return build


def institution_projects(c: Compiler, row: Any, details: FieldDetailsList, args: Any) -> Any:
    link = aliased(m.ProjectInstitution)
    return c.project_list(details, link, link.institution_id, row.id)


# --- Project ------------------------------------------------------------------------------


def linked(
    c: Compiler,
    details: FieldDetailsList,
    link: Any,
    owned: ColumnElement[bool],
    target: Any,
    joined: ColumnElement[bool],
    type_name: str,
    key: Any,
) -> ColumnElement[Any]:
    """The `type_name` rows joined to the outer row through a link table, ordered by `key`:
    `owned` picks the outer row's links, `joined` ties a link to its target."""
    rows = select(target).select_from(link).join(target, joined).where(owned)
    return c.json.array(rows, c.object(type_name, target, details), [key])


def project_themes(c: Compiler, row: Any, details: FieldDetailsList, args: Any) -> Any:
    link, theme = aliased(m.ProjectTheme), aliased(m.Theme)
    owned, joined = link.project_id == row.id, theme.id == link.theme_id
    return linked(c, details, link, owned, theme, joined, "Theme", theme.id)


def project_countries(c: Compiler, row: Any, details: FieldDetailsList, args: Any) -> Any:
    link, country = aliased(m.ProjectCountry), aliased(m.Country)
    owned, joined = link.project_id == row.id, country.code == link.country_code
    return linked(c, details, link, owned, country, joined, "Country", country.code)


def project_institutions(c: Compiler, row: Any, details: FieldDetailsList, args: Any) -> Any:
    link = aliased(m.ProjectInstitution)
    rows = select(link).where(link.project_id == row.id)
    return c.json.array(rows, c.object("ProjectInstitution", link, details), [link.id])


def project_members(c: Compiler, row: Any, details: FieldDetailsList, args: Any) -> Any:
    link = aliased(m.ProjectMember)
    rows = select(link).where(link.project_id == row.id)
    return c.json.array(rows, c.object("ProjectMember", link, details), [link.id])


def member_institution(c: Compiler, row: Any, details: FieldDetailsList, args: Any) -> Any:
    return institution_of("institution_id")(c, row, details, args)


def project_datasets(c: Compiler, row: Any, details: FieldDetailsList, args: Any) -> Any:
    dataset = aliased(m.Dataset)
    rows = select(dataset).where(dataset.project_id == row.id, c.dataset_visible(dataset))
    return c.json.array(rows, c.object("Dataset", dataset, details), [dataset.id])


# --- Dataset ------------------------------------------------------------------------------


def dataset_project(c: Compiler, row: Any, details: FieldDetailsList, args: Any) -> Any:
    project = aliased(m.Project)
    rows = select(project).where(project.id == row.project_id, c.visible(project))
    return c.json.one(rows, c.object("Project", project, details))


def dataset_themes(c: Compiler, row: Any, details: FieldDetailsList, args: Any) -> Any:
    link, theme = aliased(m.DatasetTheme), aliased(m.Theme)
    owned, joined = link.dataset_id == row.id, theme.id == link.theme_id
    return linked(c, details, link, owned, theme, joined, "Theme", theme.id)


def dataset_versions(c: Compiler, row: Any, details: FieldDetailsList, args: Any) -> Any:
    version = aliased(m.DatasetVersion)
    rows = select(version).where(version.dataset_id == row.id)
    return c.json.array(rows, c.object("DatasetVersion", version, details), [version.number])


def newest_version(state: VersionState) -> Builder:
    """The dataset's version in `state` with the highest number (latestVersion, draft)."""

    def build(c: Compiler, row: Any, details: FieldDetailsList, args: Any) -> Any:
        version = aliased(m.DatasetVersion)
        rows = (
            select(version)
            .where(version.dataset_id == row.id, version.state == state)
            .order_by(version.number.desc())
        )
        return c.json.one(rows, c.object("DatasetVersion", version, details))

    return build


# --- Dataset versions, files, uploads -----------------------------------------------------


def version_dataset(c: Compiler, row: Any, details: FieldDetailsList, args: Any) -> Any:
    dataset = aliased(m.Dataset)
    rows = select(dataset).where(dataset.id == row.dataset_id, c.dataset_visible(dataset))
    return c.json.one(rows, c.object("Dataset", dataset, details))


def version_uploads(c: Compiler, row: Any, details: FieldDetailsList, args: Any) -> Any:
    upload = aliased(m.Upload)
    rows = select(upload).where(upload.version_id == row.id)
    return c.json.array(rows, c.object("DatasetUpload", upload, details), [upload.id])


def file_profile(c: Compiler, row: Any, details: FieldDetailsList, args: Any) -> Any:
    """The profile, null unless the principal may read the file's data."""
    version, dataset = aliased(m.DatasetVersion), aliased(m.Dataset)
    readable = (
        exists()
        .where(
            version.id == row.version_id,
            dataset.id == version.dataset_id,
            c.dataset_readable(dataset),
        )
        .correlate(row)
    )
    return case((readable, c.json.nested(row.profile)), else_=literal_column("NULL"))


def file_artifacts(c: Compiler, row: Any, details: FieldDetailsList, args: Any) -> Any:
    artifact = aliased(m.Artifact)
    rows = select(artifact).where(artifact.file_id == row.id)
    return c.json.array(rows, c.object("Artifact", artifact, details), [artifact.kind])


def upload_warnings(c: Compiler, row: Any, details: FieldDetailsList, args: Any) -> Any:
    warning = aliased(m.UploadWarning)
    rows = select(warning).where(warning.upload_id == row.id)
    return c.json.array(rows, c.object("UploadWarning", warning, details), [warning.position])


def upload_part_size(c: Compiler, row: Any, details: FieldDetailsList, args: Any) -> Any:
    return func.nullif(row.part_size, 0)  # the resolver's `if row.part_size`


def upload_part_count(c: Compiler, row: Any, details: FieldDetailsList, args: Any) -> Any:
    """uploads.part_count (the parts' ceiling) for multipart uploads, else null."""
    parts = (row.declared_size + row.part_size - 1) // row.part_size
    return case((row.multipart_id.is_not(None), parts), else_=literal_column("NULL"))


# --- Researcher ---------------------------------------------------------------------------


def researcher_email(c: Compiler, row: Any, details: FieldDetailsList, args: Any) -> Any:
    return row.email if email_visible(c.principal) else literal_column("NULL")


def researcher_affiliations(c: Compiler, row: Any, details: FieldDetailsList, args: Any) -> Any:
    link = aliased(m.Affiliation)
    rows = select(link).where(link.researcher_id == row.id)
    order = [link.start_date.desc(), link.id]
    return c.json.array(rows, c.object("Affiliation", link, details), order)


def researcher_projects(c: Compiler, row: Any, details: FieldDetailsList, args: Any) -> Any:
    link = aliased(m.ProjectMember)
    return c.project_list(details, link, link.researcher_id, row.id)


def researcher_of(c: Compiler, row: Any, details: FieldDetailsList, args: Any) -> Any:
    researcher = aliased(m.Researcher)
    rows = select(researcher).where(researcher.id == row.researcher_id)
    return c.json.one(rows, c.object("Researcher", researcher, details))
