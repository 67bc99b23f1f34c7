"""The compiled types of a project's components: technical cooperation (schema/cooperation/),
the design matrix (schema/pdm/) and learning materials (schema/materials/), monitoring and
evaluation (schema/evaluation/); the Project fields that reach them and their root connections.

Every record is visible exactly when its project is (the services' rule): lists under a
project the compiler already shows need no further rule; a record reached any other way
(node, a link between records, a root connection) goes through its project's rule. The
root connections take their rows from the services' own filtered queries (a theme filter's
sub-themes found by the statement: `in_theme_tree`, `theme_subtree`). Importing this
module registers its types in `FIELDS` and its roots in `ROOTS`.
"""

from __future__ import annotations

from typing import Any

from graphql.execution.collect_fields import FieldDetailsList
from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import aliased

from schema.compiled.compiler import (
    Builder,
    Compiler,
)
from schema.compiled.roots import (
    ROOTS,
    connection,
    element_visible_by_id,
    id_of,
    project_visible_by_id,
)
from schema.compiled.sqljson import NotCompilable
from server import models as m
from server.core.errors import DomainError
from server.models.enums import (
    CourseType,
    EquipmentStatus,
    EvaluationKind,
    MaterialKind,
    PdmLevel,
)

# --- shared builders ------------------------------------------------------------------------


def owner_project(c: Compiler, row: Any, details: FieldDetailsList, args: Any) -> Any:
    """The record's project (project_node: null when hidden, which a visible record's never is)."""
    project = aliased(m.Project)
    rows = select(project).where(project.id == row.project_id, c.visible(project))
    return c.json.one(rows, c.object("Project", project, details))


def owned(model: Any, type_name: str, *order: str) -> Builder:
    """The project's records of `model`, by the columns `order` then id (the loaders')."""

    def build(c: Compiler, row: Any, details: FieldDetailsList, args: Any) -> Any:
        record = aliased(model)
        rows = select(record).where(record.project_id == row.id)
        keys = [getattr(record, name) for name in order] + [record.id]
        return c.json.array(rows, c.object(type_name, record, details), keys)

    return build


def decimal(name: str, places: int) -> Builder:
    return lambda c, row, details, args: c.json.decimal(getattr(row, name), places)


def plain_decimal(name: str, places: int) -> Builder:
    return lambda c, row, details, args: c.json.plain_decimal(getattr(row, name), places)


def theme_of(c: Compiler, row: Any, details: FieldDetailsList, args: Any) -> Any:
    theme = aliased(m.Theme)
    rows = select(theme).where(theme.id == row.theme_id)
    return c.json.one(rows, c.object("Theme", theme, details))


# --- technical cooperation ---------------------------------------------------------------


def dispatch_expert(c: Compiler, row: Any, details: FieldDetailsList, args: Any) -> Any:
    researcher = aliased(m.Researcher)
    rows = select(researcher).where(researcher.id == row.expert_id)
    return c.json.one(rows, c.object("Researcher", researcher, details))


def dispatch_counterparts(c: Compiler, row: Any, details: FieldDetailsList, args: Any) -> Any:
    link, researcher = aliased(m.DispatchCounterpart), aliased(m.Researcher)
    rows = (
        select(researcher)
        .select_from(link)
        .join(researcher, researcher.id == link.researcher_id)
        .where(link.dispatch_id == row.id)
    )
    return c.json.array(rows, c.object("Researcher", researcher, details), [researcher.id])


def course_participants(c: Compiler, row: Any, details: FieldDetailsList, args: Any) -> Any:
    link = aliased(m.TrainingParticipant)
    rows = select(link).where(link.course_id == row.id)
    return c.json.array(rows, c.object("TrainingParticipant", link, details), [link.researcher_id])


def equipment_next_statuses(c: Compiler, row: Any, details: FieldDetailsList, args: Any) -> Any:
    from server.cooperation.service import next_statuses

    table = {s.value: [n.name for n in next_statuses(s)] for s in EquipmentStatus}
    return c.json.lookup(row.status, table)


# --- design matrix ---------------------------------------------------------------------------


def design_matrix(c: Compiler, row: Any, details: FieldDetailsList, args: Any) -> Any:
    """The project's elements (ProjectPdmFields.design_matrix): the DesignMatrix object
    over the project's row."""
    return c.object("DesignMatrix", row, details)


def matrix_elements(level: PdmLevel | None, *, first: bool = False) -> Builder:
    """The project's elements of `level` (all when None) by position then id; `first`:
    the first of them alone (the overall goal, the project purpose)."""

    def build(c: Compiler, row: Any, details: FieldDetailsList, args: Any) -> Any:
        element = aliased(m.PdmElement)
        rows = select(element).where(element.project_id == row.id)
        if level is not None:
            rows = rows.where(element.level == level)
        item = c.object("PdmElement", element, details)
        if first:
            return c.json.one(rows.order_by(element.position, element.id), item)
        return c.json.array(rows, item, [element.position, element.id])

    return build


def element_parent(c: Compiler, row: Any, details: FieldDetailsList, args: Any) -> Any:
    parent = aliased(m.PdmElement)
    rows = select(parent).where(
        parent.id == row.parent_id, project_visible_by_id(c, parent.project_id)
    )
    return c.json.one(rows, c.object("PdmElement", parent, details))


def element_children(c: Compiler, row: Any, details: FieldDetailsList, args: Any) -> Any:
    child = aliased(m.PdmElement)
    rows = select(child).where(
        child.parent_id == row.id, project_visible_by_id(c, child.project_id)
    )
    return c.json.array(rows, c.object("PdmElement", child, details), [child.position, child.id])


def element_indicators(c: Compiler, row: Any, details: FieldDetailsList, args: Any) -> Any:
    indicator = aliased(m.Indicator)
    rows = select(indicator).where(
        indicator.element_id == row.id, element_visible_by_id(c, indicator.element_id)
    )
    return c.json.array(rows, c.object("Indicator", indicator, details), [indicator.id])


def indicator_element(c: Compiler, row: Any, details: FieldDetailsList, args: Any) -> Any:
    element = aliased(m.PdmElement)
    rows = select(element).where(
        element.id == row.element_id, project_visible_by_id(c, element.project_id)
    )
    return c.json.one(rows, c.object("PdmElement", element, details))


def indicator_measurements(newest: bool) -> Builder:
    """The measurements by date then as recorded (measurements_by_indicator); `newest`:
    the last of them alone (latestMeasurement)."""

    def build(c: Compiler, row: Any, details: FieldDetailsList, args: Any) -> Any:
        measurement = aliased(m.IndicatorMeasurement)
        rows = select(measurement).where(
            measurement.indicator_id == row.id, element_visible_by_id(c, row.element_id)
        )
        item = c.object("IndicatorMeasurement", measurement, details)
        if newest:
            order = (measurement.measured_on.desc(), measurement.id.desc())
            return c.json.one(rows.order_by(*order), item)
        return c.json.array(rows, item, [measurement.measured_on, measurement.id])

    return build


# --- monitoring and evaluation ---------------------------------------------------------------


def evaluation_ratings(c: Compiler, row: Any, details: FieldDetailsList, args: Any) -> Any:
    """The DacRatings object over the evaluation's row."""
    return c.object("DacRatings", row, details)


def evaluation_lessons(c: Compiler, row: Any, details: FieldDetailsList, args: Any) -> Any:
    lesson = aliased(m.LessonLearned)
    rows = select(lesson).where(lesson.evaluation_id == row.id)
    return c.json.array(rows, c.object("LessonLearned", lesson, details), [lesson.id])


def lesson_evaluation(c: Compiler, row: Any, details: FieldDetailsList, args: Any) -> Any:
    evaluation = aliased(m.Evaluation)
    rows = select(evaluation).where(
        evaluation.id == row.evaluation_id, project_visible_by_id(c, evaluation.project_id)
    )
    return c.json.one(rows, c.object("Evaluation", evaluation, details))


# --- root connections --------------------------------------------------------------------------


def optional_id(flt: dict[str, Any], key: str, type_name: str) -> int | None:
    value = flt.get(key)
    return id_of(value, type_name) if value is not None else None


def themed(flt: dict[str, Any]) -> ColumnElement[bool] | None:
    """The theme filter's clause over projects, the sub-themes found by the statement."""
    from server.projects.queries import in_theme_tree

    theme = optional_id(flt, "themeId", "Theme")
    return in_theme_tree(theme) if theme is not None else None


def paged(
    c: Compiler, details: FieldDetailsList, args: dict[str, Any], build: Any, model: Any, name: str
) -> ColumnElement[Any]:
    """The connection of the rows `build()` selects; a filter the service refuses (a year
    out of range) is strawberry's to answer."""
    try:
        base = build()
    except (DomainError, ValueError, OverflowError) as error:
        raise NotCompilable("filter") from error
    return connection(c, details, args, base, model, name)


def root_expert_dispatches(
    c: Compiler, details: FieldDetailsList, args: dict[str, Any]
) -> ColumnElement[Any]:
    from server.cooperation.queries import DispatchFilter, dispatches_filtered
    from server.themes.queries import theme_subtree

    flt = args.get("filter")
    service_filter, subtree = None, None
    if flt:
        service_filter = DispatchFilter(
            project_id=optional_id(flt, "projectId", "Project"),
            host_country=flt.get("hostCountry"),
            theme_id=optional_id(flt, "themeId", "Theme"),
            year=flt.get("year"),
            origin_country=flt.get("originCountry"),
        )
        if service_filter.theme_id is not None:
            subtree = theme_subtree(service_filter.theme_id)
    build = lambda: dispatches_filtered(c.principal, service_filter, subtree)  # noqa: E731
    return paged(c, details, args, build, m.ExpertDispatch, "ExpertDispatch")


def root_training_courses(
    c: Compiler, details: FieldDetailsList, args: dict[str, Any]
) -> ColumnElement[Any]:
    from server.cooperation.queries import CourseFilter, courses_query

    flt = args.get("filter")
    service_filter = None
    if flt:
        kind = flt.get("courseType")
        service_filter = CourseFilter(
            project_id=optional_id(flt, "projectId", "Project"),
            host_country=flt.get("hostCountry"),
            course_type=CourseType(kind) if kind is not None else None,
            year=flt.get("year"),
        )
    build = lambda: courses_query(c.principal, service_filter)  # noqa: E731
    return paged(c, details, args, build, m.TrainingCourse, "TrainingCourse")


def root_equipment_items(
    c: Compiler, details: FieldDetailsList, args: dict[str, Any]
) -> ColumnElement[Any]:
    from server.cooperation.queries import EquipmentFilter, equipment_query

    flt = args.get("filter")
    service_filter = None
    if flt:
        status = flt.get("status")
        service_filter = EquipmentFilter(
            project_id=optional_id(flt, "projectId", "Project"),
            recipient_country=flt.get("recipientCountry"),
            status=EquipmentStatus(status) if status is not None else None,
            year=flt.get("year"),
        )
    build = lambda: equipment_query(c.principal, service_filter)  # noqa: E731
    return paged(c, details, args, build, m.EquipmentItem, "EquipmentItem")


def root_indicators(
    c: Compiler, details: FieldDetailsList, args: dict[str, Any]
) -> ColumnElement[Any]:
    from server.pdm.queries import IndicatorFilter, indicators_filtered

    flt = args.get("filter")
    service_filter, theme = None, None
    if flt:
        level = flt.get("level")
        service_filter = IndicatorFilter(
            project_id=optional_id(flt, "projectId", "Project"),
            country=flt.get("country"),
            level=PdmLevel(level) if level is not None else None,
        )
        theme = themed(flt)
    build = lambda: indicators_filtered(c.principal, service_filter, theme)  # noqa: E731
    return paged(c, details, args, build, m.Indicator, "Indicator")


def root_learning_materials(
    c: Compiler, details: FieldDetailsList, args: dict[str, Any]
) -> ColumnElement[Any]:
    from server.materials.queries import MaterialFilter, materials_filtered

    flt = args.get("filter")
    service_filter, theme = None, None
    if flt:
        kind = flt.get("kind")
        service_filter = MaterialFilter(
            project_id=optional_id(flt, "projectId", "Project"),
            language=flt.get("language"),
            kind=MaterialKind(kind) if kind is not None else None,
            country=flt.get("country"),
            year=flt.get("year"),
        )
        theme = themed(flt)
    build = lambda: materials_filtered(c.principal, service_filter, theme)  # noqa: E731
    return paged(c, details, args, build, m.LearningMaterial, "LearningMaterial")


def records(model: Any, type_name: str) -> Any:
    """The root connection of an evaluation record type (records_query's filter)."""

    def root(c: Compiler, details: FieldDetailsList, args: dict[str, Any]) -> ColumnElement[Any]:
        from server.evaluation.queries import RecordFilter, records_filtered

        flt = args.get("filter")
        service_filter, theme = None, None
        if flt:
            theme = themed(flt)
            kind = flt.get("kind")
            service_filter = RecordFilter(
                project_id=optional_id(flt, "projectId", "Project"),
                evaluation_id=optional_id(flt, "evaluationId", "Evaluation"),
                country=flt.get("country"),
                year=flt.get("year"),
                kind=EvaluationKind(kind) if kind is not None else None,
                text=flt.get("text"),
            )
        build = lambda: records_filtered(c.principal, model, service_filter, theme)  # noqa: E731
        return paged(c, details, args, build, model, type_name)

    return root


COMPONENT_ROOTS = {
    "expertDispatches": root_expert_dispatches,
    "trainingCourses": root_training_courses,
    "equipmentItems": root_equipment_items,
    "indicators": root_indicators,
    "learningMaterials": root_learning_materials,
    "jccMeetings": records(m.JccMeeting, "JccMeeting"),
    "monitoringReports": records(m.MonitoringReport, "MonitoringReport"),
    "evaluations": records(m.Evaluation, "Evaluation"),
    "lessonsLearned": records(m.LessonLearned, "LessonLearned"),
    "followUpCooperations": records(m.FollowUpCooperation, "FollowUpCooperation"),
}

ROOTS.update(COMPONENT_ROOTS)
