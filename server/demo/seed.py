"""Plans into rows: `seed_demo` and `seed_scaled` add them to a session and flush.

Loading twice is refused: `seed_demo` raises DemoDataExists when a demo project acronym is
already in the database, `seed_scaled` when its benchmark themes exist. Both only add and
flush; the caller commits.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence

from sqlalchemy import insert, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from server.core.db import Base
from server.demo.cooperation import DAC_CRITERIA
from server.demo.drafts import ElementDraft, PersonDraft, ProjectDraft
from server.demo.generate import SCALED_THEME_PREFIX, plan_demo, plan_scaled
from server.demo.loader import INSTITUTION_BY_KEY, PROJECTS
from server.demo.planner import DEMO_SEED
from server.models import (
    Affiliation,
    DispatchCounterpart,
    EquipmentItem,
    Evaluation,
    ExpertDispatch,
    FollowUpCooperation,
    Indicator,
    IndicatorMeasurement,
    Institution,
    JccMeeting,
    LearningMaterial,
    LessonLearned,
    MonitoringReport,
    PdmElement,
    PhaseTransition,
    Project,
    ProjectCountry,
    ProjectInstitution,
    ProjectMember,
    ProjectTheme,
    Researcher,
    Theme,
    TrainingCourse,
    TrainingParticipant,
)


class DemoDataExists(RuntimeError):
    """The demo (or benchmark) graph is already loaded: seeding again would duplicate it."""


async def _themes_by_code(session: AsyncSession, codes: Iterable[str]) -> dict[str, Theme]:
    wanted = set(codes)
    rows = await session.scalars(select(Theme).where(Theme.code.in_(wanted)))
    found = {t.code: t for t in rows}
    if missing := wanted - found.keys():
        raise LookupError(f"themes missing (are the migrations applied?): {sorted(missing)}")
    return found


async def _institutions(
    session: AsyncSession, keys: Iterable[str]
) -> tuple[dict[str, Institution], int]:
    """Institution rows for the keys: existing ones (same ROR id, or same English name and
    country) are reused, the others are added. Returns the rows and how many are new."""
    specs = [INSTITUTION_BY_KEY[k] for k in sorted(set(keys))]
    rors = [s.ror_id for s in specs if s.ror_id]
    existing = (
        await session.scalars(
            select(Institution).where(
                or_(
                    Institution.ror_id.in_(rors),
                    Institution.name_en.in_([s.name_en for s in specs]),
                )
            )
        )
    ).all()
    by_ror = {i.ror_id: i for i in existing if i.ror_id}
    by_name = {(i.name_en, i.country_code): i for i in existing}
    rows: dict[str, Institution] = {}
    for spec in specs:
        row = (by_ror.get(spec.ror_id) if spec.ror_id else None) or by_name.get(
            (spec.name_en, spec.country)
        )
        if row is None:
            row = Institution(
                name_en=spec.name_en,
                name_local=spec.name_local,
                acronym=spec.acronym,
                country_code=spec.country,
                kind=spec.kind,
                ror_id=spec.ror_id,
                website=spec.website,
            )
            session.add(row)
        rows[spec.key] = row
    return rows, sum(1 for r in rows.values() if r.id is None)


def _project_row(draft: ProjectDraft) -> Project:
    return Project(
        title=draft.title,
        acronym=draft.acronym,
        summary=draft.summary,
        start_date=draft.start_date,
        end_date=draft.end_date,
        phase=draft.phase,
        rd_signed_on=draft.rd_signed_on,
        created_at=draft.history[0].at,
        updated_at=draft.history[-1].at,
    )


def _project_links(
    draft: ProjectDraft,
    project: Project,
    themes: Mapping[str, Theme],
    institutions: Mapping[str, Institution],
    researchers: Mapping[PersonDraft, Researcher],
) -> list[Base]:
    pid = project.id
    return [
        ProjectTheme(project_id=pid, theme_id=themes[draft.theme].id),
        *(ProjectCountry(project_id=pid, country_code=c) for c in draft.countries),
        *(
            ProjectInstitution(project_id=pid, institution_id=institutions[key].id, role=role)
            for key, role in draft.institutions
        ),
        *(
            ProjectMember(
                project_id=pid,
                researcher_id=researchers[person].id,
                institution_id=institutions[person.institution].id,
                role=role,
            )
            for person, role in draft.members
        ),
        *(
            PhaseTransition(
                project_id=pid,
                from_phase=step.from_phase,
                to_phase=step.to_phase,
                at=step.at,
                note=step.note,
                document_ref=step.document_ref,
            )
            for step in draft.history
        ),
    ]


COOPERATION_TABLES = (
    ExpertDispatch,
    DispatchCounterpart,
    TrainingCourse,
    TrainingParticipant,
    EquipmentItem,
    PdmElement,
    Indicator,
    IndicatorMeasurement,
    JccMeeting,
    MonitoringReport,
    Evaluation,
    LessonLearned,
    FollowUpCooperation,
    LearningMaterial,
)


async def _insert(
    session: AsyncSession,
    model: type[Base],
    rows: Sequence[dict[str, object]],
    counts: Counter[str],
) -> list[int]:
    """Bulk INSERT (executemany); the new ids in the order of `rows` when the table has one."""
    counts[model.__tablename__] += len(rows)
    if not rows:
        return []
    if "id" not in model.__table__.c:
        await session.execute(insert(model), list(rows))
        return []
    statement = insert(model).returning(model.__table__.c.id, sort_by_parameter_order=True)
    return list(await session.scalars(statement, list(rows)))


async def _persist_cooperation(
    session: AsyncSession,
    pairs: Sequence[tuple[ProjectDraft, Project]],
    themes: Mapping[str, Theme],
    institutions: Mapping[str, Institution],
    researchers: Mapping[PersonDraft, Researcher],
) -> Counter[str]:
    """The cooperation rows, as bulk inserts: a few thousand rows, so no ORM unit of work.
    Parents go first and hand their new ids to their children."""
    counts: Counter[str] = Counter()

    def inst(key: str) -> int:
        return institutions[key].id

    def who(person: PersonDraft) -> int:
        return researchers[person].id

    flat: dict[type[Base], list[dict[str, object]]] = defaultdict(list)
    for draft, project in pairs:
        coop, pid = draft.cooperation, project.id
        flat[EquipmentItem] += [
            {
                "project_id": pid,
                "item": q.item,
                "category": q.category,
                "quantity": q.quantity,
                "value": q.value,
                "currency": q.currency,
                "recipient_institution_id": inst(q.recipient),
                "delivery_date": q.delivery,
                "status": q.status,
            }
            for q in coop.equipment
        ]
        flat[JccMeeting] += [
            {
                "project_id": pid,
                "held_on": m.held_on,
                "minutes": m.minutes,
                "decisions": m.decisions,
            }
            for m in coop.meetings
        ]
        flat[MonitoringReport] += [
            {
                "project_id": pid,
                "period_start": r.period_start,
                "period_end": r.period_end,
                "submitted_on": r.submitted_on,
                "summary": r.summary,
                "document_ref": r.document_ref,
            }
            for r in coop.reports
        ]
        flat[FollowUpCooperation] += [
            {
                "project_id": pid,
                "start_date": f.start,
                "end_date": f.end,
                "description": f.description,
            }
            for f in coop.follow_ups
        ]
        flat[LearningMaterial] += [
            {
                "project_id": pid,
                "title": m.title,
                "kind": m.kind,
                "language": m.language,
                "audience": m.audience,
                "licence": m.licence,
                "url": m.url,
            }
            for m in coop.materials
        ]
    for model, rows in flat.items():
        await _insert(session, model, rows, counts)

    dispatches = [
        (draft, project, d) for draft, project in pairs for d in draft.cooperation.dispatches
    ]
    ids = await _insert(
        session,
        ExpertDispatch,
        [
            {
                "project_id": project.id,
                "expert_id": who(d.expert),
                "origin_country": d.origin_country,
                "host_institution_id": inst(d.host),
                "theme_id": themes[draft.theme].id,
                "start_date": d.start,
                "end_date": d.end,
                "purpose": d.purpose,
            }
            for draft, project, d in dispatches
        ],
        counts,
    )
    await _insert(
        session,
        DispatchCounterpart,
        [
            {"dispatch_id": i, "researcher_id": who(p)}
            for i, (_, _, d) in zip(ids, dispatches, strict=True)
            for p in d.counterparts
        ],
        counts,
    )

    courses = [(project, c) for draft, project in pairs for c in draft.cooperation.courses]
    ids = await _insert(
        session,
        TrainingCourse,
        [
            {
                "project_id": project.id,
                "title": c.title,
                "course_type": c.course_type,
                "host_institution_id": inst(c.host) if c.host else None,
                "host_country": c.host_country,
                "start_date": c.start,
                "end_date": c.end,
                "outcome_notes": c.outcome_notes,
            }
            for project, c in courses
        ],
        counts,
    )
    await _insert(
        session,
        TrainingParticipant,
        [
            {"course_id": i, "researcher_id": who(p), "institution_id": inst(p.institution)}
            for i, (_, c) in zip(ids, courses, strict=True)
            for p in c.participants
        ],
        counts,
    )

    evaluations = [(project, e) for draft, project in pairs for e in draft.cooperation.evaluations]
    ids = await _insert(
        session,
        Evaluation,
        [
            {
                "project_id": project.id,
                "kind": e.kind,
                "evaluated_on": e.evaluated_on,
                "summary": f"{e.summary} Demo data: fictional.",
                "document_ref": e.document_ref,
                **dict.fromkeys(DAC_CRITERIA),
                **(dict(zip(DAC_CRITERIA, e.ratings, strict=True)) if e.ratings else {}),
            }
            for project, e in evaluations
        ],
        counts,
    )
    await _insert(
        session,
        LessonLearned,
        [
            {"project_id": project.id, "evaluation_id": i, "text": text}
            for i, (project, e) in zip(ids, evaluations, strict=True)
            for text in e.lessons
        ],
        counts,
    )

    # The PDM, one level at a time: (project id, parent id, element) -> ids -> children.
    level: list[tuple[int, int | None, ElementDraft]] = [
        (project.id, None, e) for draft, project in pairs for e in draft.cooperation.pdm
    ]
    while level:
        ids = await _insert(
            session,
            PdmElement,
            [
                {
                    "project_id": pid,
                    "level": e.level,
                    "parent_id": parent,
                    "position": e.position,
                    "description": e.description,
                }
                for pid, parent, e in level
            ],
            counts,
        )
        indicators = [(i, x) for i, (_, _, e) in zip(ids, level, strict=True) for x in e.indicators]
        indicator_ids = await _insert(
            session,
            Indicator,
            [
                {
                    "element_id": i,
                    "description": x.description,
                    "unit": x.unit,
                    "baseline": x.baseline,
                    "target": x.target,
                    "means_of_verification": x.verification,
                }
                for i, x in indicators
            ],
            counts,
        )
        await _insert(
            session,
            IndicatorMeasurement,
            [
                {
                    "indicator_id": i,
                    "measured_on": day,
                    "value": value,
                    "unit": x.unit,
                    "note": note,
                }
                for i, (_, x) in zip(indicator_ids, indicators, strict=True)
                for day, value, note in x.measurements
            ],
            counts,
        )
        level = [
            (pid, i, child)
            for i, (pid, _, e) in zip(ids, level, strict=True)
            for child in e.children
        ]
    return counts


async def _persist(
    session: AsyncSession, drafts: Sequence[ProjectDraft], themes: Mapping[str, Theme]
) -> dict[str, int]:
    """Two flushes (the rows others point at, then every link between them), then the
    cooperation records as bulk inserts, parents before children."""
    institutions, new_institutions = await _institutions(
        session, (key for d in drafts for key, _ in d.institutions)
    )
    people = list(dict.fromkeys(person for d in drafts for person, _ in d.members))
    researchers = {
        p: Researcher(name_en=p.name_en, name_local=p.name_local, email=p.email) for p in people
    }
    projects = [_project_row(d) for d in drafts]
    session.add_all([*researchers.values(), *projects])
    await session.flush()

    affiliations = [
        Affiliation(
            researcher_id=researchers[p].id,
            institution_id=institutions[p.institution].id,
            title=p.title,
            start_date=p.since,
        )
        for p in people
    ]
    links = [
        link
        for draft, project in zip(drafts, projects, strict=True)
        for link in _project_links(draft, project, themes, institutions, researchers)
    ]
    session.add_all([*affiliations, *links])
    await session.flush()
    pairs = list(zip(drafts, projects, strict=True))
    cooperation = await _persist_cooperation(session, pairs, themes, institutions, researchers)

    def count(kind: type[Base]) -> int:
        return sum(1 for link in links if isinstance(link, kind))

    return {
        "institutions": new_institutions,
        "researchers": len(researchers),
        "affiliations": len(affiliations),
        "projects": len(projects),
        "partner_countries": len({c for d in drafts for c in d.countries}),
        "project_themes": count(ProjectTheme),
        "project_institutions": count(ProjectInstitution),
        "project_members": count(ProjectMember),
        "phase_transitions": count(PhaseTransition),
        **{table.__tablename__: cooperation[table.__tablename__] for table in COOPERATION_TABLES},
    }


async def seed_demo(
    session: AsyncSession, *, scale: int = 1, seed: int = DEMO_SEED
) -> dict[str, int]:
    """Load the demo graph (scale > 1: that many copies of every project) and flush.

    Raises DemoDataExists if a demo project is already in the database.
    """
    drafts = plan_demo(scale=scale, seed=seed)
    markers = [spec.acronym for spec in PROJECTS]
    if await session.scalar(select(Project.id).where(Project.acronym.in_(markers)).limit(1)):
        raise DemoDataExists("the demo graph is already loaded (its project acronyms exist)")
    themes = await _themes_by_code(session, {d.theme for d in drafts})
    counts = await _persist(session, drafts, themes)
    from server.analytics import refresh_stats

    await refresh_stats(session)  # themeStats' figures, without waiting for the workers
    return counts


async def seed_scaled(
    session: AsyncSession,
    *,
    themes: int = 20,
    projects_per_theme: int = 25,
    institutions_per_project: int = 4,
    seed: int = DEMO_SEED,
) -> dict[str, int]:
    """A synthetic benchmark graph: `themes` new sub-themes x `projects_per_theme` projects
    x `institutions_per_project` institutions (capped by the catalogue). Flushes only.

    Raises DemoDataExists if benchmark themes are already in the database.
    """
    theme_specs, drafts = plan_scaled(
        themes=themes,
        projects_per_theme=projects_per_theme,
        institutions_per_project=institutions_per_project,
        seed=seed,
    )
    if await session.scalar(
        select(Theme.id).where(Theme.code.startswith(SCALED_THEME_PREFIX)).limit(1)
    ):
        raise DemoDataExists("the benchmark themes are already loaded")
    parents = await _themes_by_code(session, {t.parent for t in theme_specs})
    rows = {
        t.code: Theme(code=t.code, name=t.name, parent_id=parents[t.parent].id) for t in theme_specs
    }
    session.add_all(rows.values())
    counts = await _persist(session, drafts, rows)
    return {"themes": len(rows), **counts}
