"""What the planners make: a project and its records as plain, checked values.

Plans are pure and deterministic; `server.demo.seed` turns them into rows.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from server.models.enums import (
    CourseType,
    DacRating,
    EquipmentStatus,
    EvaluationKind,
    InstitutionRole,
    MaterialKind,
    MemberRole,
    PdmLevel,
    ProjectPhase,
)


@dataclass(frozen=True)
class PersonDraft:
    serial: int
    name_en: str
    name_local: str | None
    institution: str
    title: str
    since: dt.date
    email: str


@dataclass(frozen=True)
class StepDraft:
    from_phase: ProjectPhase | None
    to_phase: ProjectPhase
    at: dt.datetime
    note: str
    document_ref: str | None = None


@dataclass(frozen=True)
class DispatchDraft:
    expert: PersonDraft
    origin_country: str
    host: str  # institution key
    start: dt.date
    end: dt.date
    purpose: str
    counterparts: tuple[PersonDraft, ...]


@dataclass(frozen=True)
class CourseDraft:
    title: str
    course_type: CourseType
    host: str | None  # institution key
    host_country: str
    start: dt.date
    end: dt.date
    outcome_notes: str | None
    participants: tuple[PersonDraft, ...]  # each attends for their own (partner) institution


@dataclass(frozen=True)
class EquipmentDraft:
    item: str
    category: str
    quantity: int
    value: Decimal
    currency: str
    recipient: str  # institution key
    delivery: dt.date
    status: EquipmentStatus


@dataclass(frozen=True)
class IndicatorDraft:
    description: str
    unit: str
    baseline: Decimal
    target: Decimal
    verification: str
    measurements: tuple[tuple[dt.date, Decimal, str], ...] = ()


@dataclass(frozen=True)
class ElementDraft:
    level: PdmLevel
    position: int
    description: str
    indicators: tuple[IndicatorDraft, ...] = ()
    children: tuple[ElementDraft, ...] = ()


@dataclass(frozen=True)
class MeetingDraft:
    held_on: dt.date
    minutes: str
    decisions: str


@dataclass(frozen=True)
class ReportDraft:
    period_start: dt.date
    period_end: dt.date
    submitted_on: dt.date
    summary: str
    document_ref: str


@dataclass(frozen=True)
class EvaluationDraft:
    kind: EvaluationKind
    evaluated_on: dt.date
    summary: str
    document_ref: str
    ratings: tuple[DacRating, ...] | None = None  # the six DAC criteria, in DAC_CRITERIA order
    lessons: tuple[str, ...] = ()


@dataclass(frozen=True)
class FollowUpDraft:
    start: dt.date
    end: dt.date | None
    description: str


@dataclass(frozen=True)
class MaterialDraft:
    title: str
    kind: MaterialKind
    language: str
    audience: str
    licence: str
    url: str | None


@dataclass
class CooperationDraft:
    """A project's technical cooperation, PDM and M&E records (all empty before planning)."""

    dispatches: list[DispatchDraft] = field(default_factory=list)
    courses: list[CourseDraft] = field(default_factory=list)
    equipment: list[EquipmentDraft] = field(default_factory=list)
    pdm: list[ElementDraft] = field(default_factory=list)  # the overall goal, the purpose
    meetings: list[MeetingDraft] = field(default_factory=list)
    reports: list[ReportDraft] = field(default_factory=list)
    evaluations: list[EvaluationDraft] = field(default_factory=list)
    follow_ups: list[FollowUpDraft] = field(default_factory=list)
    materials: list[MaterialDraft] = field(default_factory=list)


@dataclass
class ProjectDraft:
    acronym: str
    title: str
    summary: str
    theme: str
    phase: ProjectPhase
    countries: tuple[str, ...]
    start_date: dt.date | None
    end_date: dt.date | None
    rd_signed_on: dt.date | None
    institutions: list[tuple[str, InstitutionRole]]
    members: list[tuple[PersonDraft, MemberRole]]
    history: list[StepDraft]
    cooperation: CooperationDraft = field(default_factory=CooperationDraft)
