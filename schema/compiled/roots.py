"""The root fields the compiler answers: each returns the JSON expression of its value, to be
selected as one statement (`SqlJson.statement`). Arguments strawberry would refuse raise
NotCompilable, so its errors stay its own."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from graphql.execution.collect_fields import FieldDetailsList
from sqlalchemy import ColumnElement, Select, exists, func, select, true
from sqlalchemy.orm import aliased
from strawberry.relay import GlobalID

from schema.compiled.compiler import Compiler
from schema.compiled.sqljson import MAX_PAIRS, NotCompilable
from server import models as m
from server.errors import DomainError
from server.models.enums import AccessLevel, InstitutionKind, ProjectPhase
from server.pagination import DEFAULT_PAGE, MAX_PAGE, decode_cursor

NODE_MODELS: dict[str, Any] = {
    "Theme": m.Theme,
    "Project": m.Project,
    "Institution": m.Institution,
    "Researcher": m.Researcher,
    "Dataset": m.Dataset,
    "DatasetVersion": m.DatasetVersion,
    "DatasetFile": m.DatasetFile,
    "DatasetUpload": m.Upload,
}


def root_themes(c: Compiler, details: FieldDetailsList, args: dict[str, Any]) -> ColumnElement[Any]:
    theme = aliased(m.Theme)
    rows = select(theme)
    if args.get("rootsOnly"):
        rows = rows.where(theme.parent_id.is_(None))
    return c.json.array(rows, c.object("Theme", theme, details), [theme.id])


def root_node(c: Compiler, details: FieldDetailsList, args: dict[str, Any]) -> ColumnElement[Any]:
    try:
        gid = GlobalID.from_id(args["id"])
        key = int(gid.node_id)
    except Exception as error:  # strawberry answers a malformed id (null or an error)
        raise NotCompilable("id") from error
    model = NODE_MODELS.get(gid.type_name)
    if model is None:
        raise NotCompilable(gid.type_name)
    row = aliased(model)
    rows = select(row).where(row.id == key, node_visible(c, model, row))
    return c.json.one(rows, c.object(gid.type_name, row, details))


def node_visible(c: Compiler, model: Any, row: Any) -> ColumnElement[bool]:
    """The rule of the type's resolve_nodes over `row` (an alias of `model`)."""
    if model is m.Project:
        return c.visible(row)
    if model is m.Dataset:
        return c.dataset_visible(row)
    if model in (m.DatasetVersion, m.DatasetFile, m.Upload):
        return version_visible(c, row.id if model is m.DatasetVersion else row.version_id)
    return true()  # themes, institutions, researchers: anyone's


def version_visible(c: Compiler, version_id: Any) -> ColumnElement[bool]:
    """The version's dataset is visible (versions_by_id, files_by_id, uploads_by_id)."""
    version, dataset = aliased(m.DatasetVersion), aliased(m.Dataset)
    return exists().where(
        version.id == version_id, dataset.id == version.dataset_id, c.dataset_visible(dataset)
    )


def root_nodes(c: Compiler, details: FieldDetailsList, args: dict[str, Any]) -> ColumnElement[Any]:
    ids = args["ids"]
    if not ids or len(ids) > MAX_PAIRS:
        raise NotCompilable("ids")
    values = [root_node(c, details, {"id": one}) for one in ids]
    return func.json_build_array(*values) if c.json.pg else func.json_array(*values)


def page_size(args: dict[str, Any]) -> tuple[int, int | None]:
    """(size, after key) of a forward page; anything else is strawberry's to answer."""
    if args.get("last") is not None or args.get("before") is not None:
        raise NotCompilable("backward pages")
    first = args.get("first")
    if first is not None and not 0 <= first <= MAX_PAGE:
        raise NotCompilable("first")
    after = args.get("after")
    try:
        key = decode_cursor(after, "after") if after is not None else None
    except DomainError as error:
        raise NotCompilable("after") from error
    return (DEFAULT_PAGE if first is None else first), key


def connection(
    c: Compiler,
    details: FieldDetailsList,
    args: dict[str, Any],
    base: Select[Any],
    model: Any,
    node_type: str,
) -> ColumnElement[Any]:
    """A keyset page of `base` (a select of one entity, filters and access rules applied) as
    the Connection JSON: totalCount, edges { cursor node }, nodes, pageInfo."""
    size, after = page_size(args)
    matching = base.subquery()
    total = select(func.count()).select_from(matching).scalar_subquery()
    window_rows = base if after is None else base.where(model.id > after)
    window = window_rows.order_by(model.id).limit(size + 1).subquery()
    row = aliased(model, window)
    in_page = select(row).order_by(row.id).limit(size)
    page = in_page.subquery()
    node = aliased(model, page)

    def value(name: str, sub: FieldDetailsList) -> ColumnElement[Any]:
        if name == "totalCount":
            return total
        if name == "nodes":
            return c.json.array(select(node), c.object(node_type, node, sub), [node.id])
        if name == "edges":
            return c.json.array(select(node), edge_object(c, sub, node, node_type), [node.id])
        if name == "pageInfo":
            return page_info(c, sub, window, page, size, after)
        raise NotCompilable(name)

    return c.selection(f"{node_type}Connection", details, value)


def edge_object(c: Compiler, details: FieldDetailsList, node: Any, node_type: str) -> Any:
    def value(name: str, sub: FieldDetailsList) -> ColumnElement[Any]:
        if name == "cursor":
            return c.json.cursor(node.id)
        if name == "node":
            return c.object(node_type, node, sub)
        raise NotCompilable(name)

    return c.selection(f"{node_type}Edge", details, value)


def page_info(
    c: Compiler, details: FieldDetailsList, window: Any, page: Any, size: int, after: int | None
) -> Any:
    more = select(func.count()).select_from(window).scalar_subquery() > size

    def value(name: str, sub: FieldDetailsList) -> ColumnElement[Any]:
        if name == "hasNextPage":
            return c.json.boolean(more)
        if name == "hasPreviousPage":
            return c.json.boolean(true() if after is not None else ~true())
        if name in ("startCursor", "endCursor"):
            edge = func.min(page.c.id) if name == "startCursor" else func.max(page.c.id)
            return select(c.json.cursor(edge)).select_from(page).scalar_subquery()
        raise NotCompilable(name)

    return c.selection("PageInfo", details, value)


def root_projects(
    c: Compiler, details: FieldDetailsList, args: dict[str, Any]
) -> ColumnElement[Any]:
    from server.projects import in_partner_country

    base = select(m.Project).where(c.visible(m.Project))
    flt = args.get("filter") or {}
    if flt.get("themeId") is not None or flt.get("year") is not None:
        raise NotCompilable("filter.themeId / filter.year")  # a subtree walk / a date check
    if flt.get("country"):
        base = base.where(in_partner_country(flt["country"]))
    if flt.get("phase") is not None:
        base = base.where(m.Project.phase == ProjectPhase(flt["phase"]))
    if flt.get("institutionId") is not None:
        institution = id_of(flt["institutionId"], "Institution")
        linked = select(m.ProjectInstitution.project_id).where(
            m.ProjectInstitution.institution_id == institution
        )
        base = base.where(m.Project.id.in_(linked))
    return connection(c, details, args, base, m.Project, "Project")


def root_institutions(
    c: Compiler, details: FieldDetailsList, args: dict[str, Any]
) -> ColumnElement[Any]:
    from server.institutions import InstitutionFilter, institutions_query

    flt = args.get("filter")
    service_filter = None
    if flt:
        kind = flt.get("kind")
        service_filter = InstitutionFilter(
            country=flt.get("country"),
            kind=InstitutionKind(kind) if kind is not None else None,
            name=flt.get("name"),
        )
    base = institutions_query(service_filter)
    return connection(c, details, args, base, m.Institution, "Institution")


def root_researchers(
    c: Compiler, details: FieldDetailsList, args: dict[str, Any]
) -> ColumnElement[Any]:
    from server.researchers import ResearcherFilter, researchers_query

    flt = args.get("filter")
    service_filter = None
    if flt:
        service_filter = ResearcherFilter(name=flt.get("name"), orcid=flt.get("orcid"))
        if flt.get("institutionId") is not None:
            service_filter.institution_id = id_of(flt["institutionId"], "Institution")
    base = researchers_query(service_filter)
    return connection(c, details, args, base, m.Researcher, "Researcher")


def root_datasets(
    c: Compiler, details: FieldDetailsList, args: dict[str, Any]
) -> ColumnElement[Any]:
    from server.datasets import DatasetFilter, datasets_filtered

    flt = args.get("filter")
    service_filter = None
    if flt:
        if flt.get("themeId") is not None:
            raise NotCompilable("filter.themeId")  # a subtree walk
        level = flt.get("accessLevel")
        service_filter = DatasetFilter(
            country=flt.get("country"),
            access_level=AccessLevel(level) if level is not None else None,
        )
        if flt.get("projectId") is not None:
            service_filter.project_id = id_of(flt["projectId"], "Project")
        if flt.get("institutionId") is not None:
            service_filter.institution_id = id_of(flt["institutionId"], "Institution")
    base = datasets_filtered(c.principal, service_filter)
    return connection(c, details, args, base, m.Dataset, "Dataset")


def id_of(value: Any, type_name: str) -> int:
    try:
        gid = value if isinstance(value, GlobalID) else GlobalID.from_id(value)
        if gid.type_name == type_name:
            return int(gid.node_id)
    except Exception:
        pass
    raise NotCompilable("id")  # strawberry answers with its INVALID_ID error


def root_upload(c: Compiler, details: FieldDetailsList, args: dict[str, Any]) -> ColumnElement[Any]:
    upload = aliased(m.Upload)
    rows = select(upload).where(
        upload.id == id_of(args["id"], "DatasetUpload"), node_visible(c, m.Upload, upload)
    )
    return c.json.one(rows, c.object("DatasetUpload", upload, details))


ROOTS: dict[str, Callable[[Compiler, FieldDetailsList, dict[str, Any]], ColumnElement[Any]]] = {
    "themes": root_themes,
    "node": root_node,
    "nodes": root_nodes,
    "projects": root_projects,
    "institutions": root_institutions,
    "researchers": root_researchers,
    "datasets": root_datasets,
    "upload": root_upload,
}
