"""The root fields the compiler answers: each returns the JSON expression of its value, to be
selected as one statement (`SqlJson.statement`). Arguments strawberry would refuse raise
NotCompilable, so its errors stay its own."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from graphql.execution.collect_fields import FieldDetailsList
from sqlalchemy import ColumnElement, Select, exists, func, null, select, true
from sqlalchemy.orm import aliased
from strawberry.relay import GlobalID

from schema.compiled.compiler import Compiler
from schema.compiled.sqljson import MAX_PAIRS, NotCompilable, sql_text
from server import models as m
from server.core.errors import DomainError
from server.core.pagination import DEFAULT_PAGE, MAX_PAGE, decode_cursor
from server.models.enums import AccessLevel, InstitutionKind, ProjectPhase

NODE_MODELS: dict[str, Any] = {
    "Theme": m.Theme,
    "Project": m.Project,
    "Institution": m.Institution,
    "Researcher": m.Researcher,
    "Dataset": m.Dataset,
    "DatasetVersion": m.DatasetVersion,
    "DatasetFile": m.DatasetFile,
    "DatasetUpload": m.Upload,
    "ExpertDispatch": m.ExpertDispatch,
    "TrainingCourse": m.TrainingCourse,
    "EquipmentItem": m.EquipmentItem,
    "PdmElement": m.PdmElement,
    "Indicator": m.Indicator,
    "LearningMaterial": m.LearningMaterial,
    "JccMeeting": m.JccMeeting,
    "MonitoringReport": m.MonitoringReport,
    "Evaluation": m.Evaluation,
    "LessonLearned": m.LessonLearned,
    "FollowUpCooperation": m.FollowUpCooperation,
}
# records visible exactly when their project is (access.visible_by_id)
PROJECT_RECORDS = (
    m.ExpertDispatch,
    m.TrainingCourse,
    m.EquipmentItem,
    m.PdmElement,
    m.LearningMaterial,
    m.JccMeeting,
    m.MonitoringReport,
    m.Evaluation,
    m.LessonLearned,
    m.FollowUpCooperation,
)


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
    if model in PROJECT_RECORDS:
        return project_visible_by_id(c, row.project_id)
    if model is m.Indicator:
        return element_visible_by_id(c, row.element_id)
    return true()  # themes, institutions, researchers: anyone's


def project_visible_by_id(c: Compiler, project_id: Any) -> ColumnElement[bool]:
    """The project `project_id` names is one the principal may see."""
    project = aliased(m.Project)
    return exists().where(project.id == project_id, c.visible(project))


def element_visible_by_id(c: Compiler, element_id: Any) -> ColumnElement[bool]:
    """The PDM element's project is visible (pdm.indicators_by_id)."""
    element = aliased(m.PdmElement)
    return exists().where(element.id == element_id, project_visible_by_id(c, element.project_id))


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


@dataclass(frozen=True)
class PageWindow:
    """The page `server.core.pagination.paginate` reads: `size` rows after `after` and before
    `before`, taken from the end of the list when `backwards` (`last`)."""

    size: int
    after: int | None
    before: int | None
    backwards: bool


def page_window(args: dict[str, Any]) -> PageWindow:
    """The page the arguments ask for; anything paginate refuses is strawberry's to answer."""
    first, last = args.get("first"), args.get("last")
    for value in (first, last):
        if value is not None and not 0 <= value <= MAX_PAGE:
            raise NotCompilable("first / last")
    if first is not None and last is not None:
        raise NotCompilable("first and last")
    size = next(n for n in (last, first, DEFAULT_PAGE) if n is not None)
    after, before = cursor_key(args, "after"), cursor_key(args, "before")
    return PageWindow(size, after, before, backwards=last is not None)


def cursor_key(args: dict[str, Any], name: str) -> int | None:
    """The key in a cursor argument; a key no id column can hold fails in the driver, which
    strawberry reports (an int4 on PostgreSQL)."""
    cursor = args.get(name)
    if cursor is None:
        return None
    try:
        key = decode_cursor(cursor, name)
    except DomainError as error:
        raise NotCompilable(name) from error
    if not -(2**31) <= key < 2**31:
        raise NotCompilable(name)
    return key


def connection(
    c: Compiler,
    details: FieldDetailsList,
    args: dict[str, Any],
    base: Select[Any],
    model: Any,
    node_type: str,
) -> ColumnElement[Any]:
    """A keyset page of `base` (a select of one entity, filters and access rules applied) as
    the Connection JSON: totalCount, edges { cursor node }, nodes, pageInfo. As paginate
    does, a backward page takes the last rows of the window, edges still in id order."""
    w = page_window(args)
    matching = base.subquery()
    total = select(func.count()).select_from(matching).scalar_subquery()
    window_rows = base
    if w.after is not None:
        window_rows = window_rows.where(model.id > w.after)
    if w.before is not None:
        window_rows = window_rows.where(model.id < w.before)
    order = model.id.desc() if w.backwards else model.id
    window = window_rows.order_by(order).limit(w.size + 1).subquery()
    row = aliased(model, window)
    in_page = select(row).order_by(row.id.desc() if w.backwards else row.id).limit(w.size)
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
            return page_info(c, sub, window, page, w)
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


def page_info(c: Compiler, details: FieldDetailsList, window: Any, page: Any, w: PageWindow) -> Any:
    """paginate's flags: more rows in the window than the page holds means a page further
    in the direction read; the other way, whether a cursor bounds the window there."""
    more = select(func.count()).select_from(window).scalar_subquery() > w.size
    flags = {
        "hasNextPage": more if not w.backwards else constant(w.before is not None),
        "hasPreviousPage": more if w.backwards else constant(w.after is not None),
    }

    def value(name: str, sub: FieldDetailsList) -> ColumnElement[Any]:
        if name in flags:
            return c.json.boolean(flags[name])
        if name in ("startCursor", "endCursor"):
            edge = func.min(page.c.id) if name == "startCursor" else func.max(page.c.id)
            return select(c.json.cursor(edge)).select_from(page).scalar_subquery()
        raise NotCompilable(name)

    return c.selection("PageInfo", details, value)


def constant(flag: bool) -> ColumnElement[bool]:
    return true() if flag else ~true()


def root_projects(
    c: Compiler, details: FieldDetailsList, args: dict[str, Any]
) -> ColumnElement[Any]:
    from server.projects.queries import ProjectFilter, in_theme_tree, projects_filtered

    flt = args.get("filter")
    service_filter, themed = None, None
    if flt:
        phase = flt.get("phase")
        service_filter = ProjectFilter(
            country=flt.get("country"),
            phase=ProjectPhase(phase) if phase is not None else None,
            year=flt.get("year"),
        )
        if flt.get("themeId") is not None:
            service_filter.theme_id = id_of(flt["themeId"], "Theme")
            themed = in_theme_tree(service_filter.theme_id)
        if flt.get("institutionId") is not None:
            service_filter.institution_id = id_of(flt["institutionId"], "Institution")
    try:
        base = projects_filtered(c.principal, service_filter, themed)
    except DomainError as error:  # a year out of range: strawberry's INVALID_YEAR
        raise NotCompilable("filter.year") from error
    return connection(c, details, args, base, m.Project, "Project")


def root_institutions(
    c: Compiler, details: FieldDetailsList, args: dict[str, Any]
) -> ColumnElement[Any]:
    from server.institutions.queries import InstitutionFilter, institutions_query

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
    from server.researchers.queries import ResearcherFilter, researchers_query

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
    from server.datasets.queries import DatasetFilter, datasets_filtered
    from server.projects.queries import in_theme_tree

    flt = args.get("filter")
    service_filter, themed = None, None
    if flt:
        level = flt.get("accessLevel")
        box = flt.get("intersects")
        service_filter = DatasetFilter(
            country=flt.get("country"),
            access_level=AccessLevel(level) if level is not None else None,
            intersects=(box["west"], box["south"], box["east"], box["north"]) if box else None,
            time_from=flt.get("timeFrom"),
            time_to=flt.get("timeTo"),
        )
        if flt.get("projectId") is not None:
            service_filter.project_id = id_of(flt["projectId"], "Project")
        if flt.get("institutionId") is not None:
            service_filter.institution_id = id_of(flt["institutionId"], "Institution")
        if flt.get("themeId") is not None:
            service_filter.theme_id = id_of(flt["themeId"], "Theme")
            themed = in_theme_tree(service_filter.theme_id)
    dialect = "postgresql" if c.json.pg else "sqlite"
    try:
        base = datasets_filtered(c.principal, service_filter, themed, dialect=dialect)
    except DomainError as error:  # not a box or a period: strawberry's codes
        raise NotCompilable("filter coverage") from error
    return connection(c, details, args, base, m.Dataset, "Dataset")


def id_of(value: Any, type_name: str) -> int:
    try:
        gid = value if isinstance(value, GlobalID) else GlobalID.from_id(value)
        if gid.type_name == type_name:
            return int(gid.node_id)
    except Exception:
        pass
    raise NotCompilable("id")  # strawberry answers with its INVALID_ID error


def version_files(c: Compiler, row: Any, details: FieldDetailsList, args: Any) -> Any:
    """DatasetVersion.files: a keyset page of the version's files (datasets.folders)."""
    from server.datasets.folders import file_filter

    if args.get("last") is not None or args.get("before") is not None:
        raise NotCompilable("last / before")
    file = m.DatasetFile
    rule = file_filter(file, args.get("prefix"), args.get("format"))
    base = select(file).where(file.version_id == row.id, rule).correlate(row)
    return connection(c, details, args, base, file, "DatasetFile")


def root_upload(c: Compiler, details: FieldDetailsList, args: dict[str, Any]) -> ColumnElement[Any]:
    upload = aliased(m.Upload)
    rows = select(upload).where(
        upload.id == id_of(args["id"], "DatasetUpload"), node_visible(c, m.Upload, upload)
    )
    return c.json.one(rows, c.object("DatasetUpload", upload, details))


ME_FIELDS = ("role", "researcher", "institution")  # the fields of Me root_me answers


def root_me(c: Compiler, details: FieldDetailsList, args: dict[str, Any]) -> ColumnElement[Any]:
    """The caller's account (AccountQueries.me): null for anonymous callers; the role a
    constant of the plan (compiler.principal_key keeps plans apart by role), the
    researcher and institution by the principal's ids, as their loaders read them."""
    principal = c.principal
    if not principal.is_authenticated or principal.role is None:
        return null()
    owners: dict[str, tuple[Any, str, int | None]] = {
        "researcher": (m.Researcher, "Researcher", principal.researcher_id),
        "institution": (m.Institution, "Institution", principal.institution_id),
    }

    def value(name: str, sub: FieldDetailsList) -> ColumnElement[Any]:
        if name == "role":
            assert principal.role is not None
            return sql_text(principal.role.name)
        if name not in owners:  # ME_FIELDS
            raise NotCompilable(f"Me.{name}")
        model, type_name, key = owners[name]
        if key is None:
            return null()
        row = aliased(model)
        return c.json.one(select(row).where(row.id == key), c.object(type_name, row, sub))

    return c.selection("Me", details, value)


ROOTS: dict[str, Callable[[Compiler, FieldDetailsList, dict[str, Any]], ColumnElement[Any]]] = {
    "themes": root_themes,
    "node": root_node,
    "nodes": root_nodes,
    "projects": root_projects,
    "institutions": root_institutions,
    "researchers": root_researchers,
    "datasets": root_datasets,
    "upload": root_upload,
    "me": root_me,
}
