"""The hand-written SQL endpoints of bench/graph_read.py: per query one statement per
dialect (PostgreSQL json_build_object / json_agg, SQLite json_object / json_group_array)
that builds the whole answer, global ids and cursors included, and the plain Starlette app
that serves them (see graph_read.py's docstring)."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

import common  # noqa: F401  (the repository on the import path)
from graph_read_queries import PAGE_SIZE
from sqlalchemy import TextClause, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from server.access.visibility import PUBLIC_PHASES
from server.core.pagination import decode_cursor

# ---- hand-written SQL: ids --------------------------------------------------------------


def pg_base64(prefix: str, column: str, *, urlsafe: bool = False) -> str:
    """base64 of prefix || column in PostgreSQL (short values: no line breaks)."""
    encoded = f"encode(convert_to('{prefix}' || {column}, 'UTF8'), 'base64')"
    return f"translate({encoded}, '+/', '-_')" if urlsafe else encoded


def sqlite_base64(prefix: str, column: str, *, urlsafe: bool = False, digits: int = 10) -> str:
    """base64 of prefix || column (a non-negative integer of at most `digits` digits) in
    SQLite's SQL: the prefix's whole 3-byte groups are a constant; what is left of it and the
    digits are encoded a 3-byte group at a time, looked up by the group's digits in a blob
    literal of precomputed 4-character groups (a blob: substr on it is by byte offset)."""
    encode = base64.urlsafe_b64encode if urlsafe else base64.b64encode
    cut = len(prefix) - len(prefix) % 3
    head = encode(prefix[:cut].encode()).decode()

    # SQLite's parser stack is shallow (the nested query is deep already): no CASTs,
    # length() and substr() of an integer take its digits, '012' * 4 is 48
    def lookup(lead: str, width: int, at: int) -> str:
        table = b"".join(encode(f"{lead}{n:0{width}d}".encode()) for n in range(10**width))
        return f"substr(x'{table.hex()}', substr({column}, {at}, {width}) * 4 + 1, 4)"

    groups = []
    at, lead = 1, prefix[cut:]
    while at <= digits:
        width = 3 - len(lead)  # digits in this group
        cases = [f"WHEN length({column}) >= {at + width - 1} THEN {lookup(lead, width, at)}"]
        cases += [
            f"WHEN length({column}) = {at + short - 1} THEN {lookup(lead, short, at)}"
            for short in range(width - 1, 0, -1)
        ]
        groups.append(f"CASE {' '.join(cases)} ELSE '' END")
        at, lead = at + width, ""
    return f"(CASE WHEN {column} IS NULL THEN NULL ELSE '{head}' || {' || '.join(groups)} END)"


def global_id(dialect: str, type_name: str, column: str) -> str:
    """The relay id strawberry gives: base64("Type:id")."""
    encode = pg_base64 if dialect == "postgresql" else sqlite_base64
    return encode(f"{type_name}:", column)


def cursor(dialect: str, column: str) -> str:
    """server.core.pagination.encode_cursor: urlsafe base64("k1:id")."""
    encode = pg_base64 if dialect == "postgresql" else sqlite_base64
    return encode("k1:", column, urlsafe=True)


# ---- hand-written SQL: the statements ---------------------------------------------------

# Same shape, same order as the GraphQL answers: themes by id, projects by id, links by id.
PG_NESTED = """
SELECT json_build_object('data', json_build_object('themes', coalesce(json_agg(
         json_build_object(
           'id', {theme_id},
           'name', t.name,
           'projects', coalesce(p.projects, '[]'::json))
         ORDER BY t.id), '[]'::json)))::text
FROM themes t
LEFT JOIN LATERAL (
  SELECT json_agg(
           json_build_object(
             'id', {project_id},
             'title', pr.title,
             'institutions', coalesce(i.institutions, '[]'::json))
           ORDER BY pr.id) AS projects
  FROM project_themes pt
  JOIN projects pr ON pr.id = pt.project_id
  LEFT JOIN LATERAL (
    SELECT json_agg(
             json_build_object(
               'role', upper(pi.role),
               'institution', json_build_object(
                 'id', {institution_id},
                 'nameEn', inst.name_en))
             ORDER BY pi.id) AS institutions
    FROM project_institutions pi
    JOIN institutions inst ON inst.id = pi.institution_id
    WHERE pi.project_id = pr.id
  ) i ON true
  WHERE pt.theme_id = t.id
) p ON true
"""

PG_NODE = """
SELECT json_build_object('data', json_build_object('node', (
  SELECT json_build_object(
           'id', {project_id},
           'title', pr.title,
           'acronym', pr.acronym,
           'phase', upper(pr.phase),
           'startDate', pr.start_date,
           'endDate', pr.end_date,
           'themes', coalesce((
             SELECT json_agg(json_build_object('id', {theme_id}, 'name', t.name) ORDER BY t.id)
             FROM project_themes pt JOIN themes t ON t.id = pt.theme_id
             WHERE pt.project_id = pr.id), '[]'::json))
  FROM projects pr WHERE pr.id = :id)))::text
"""

PG_PAGE = """
WITH win AS (
  SELECT id, title, phase FROM projects WHERE id > :after ORDER BY id LIMIT :peek
), page AS (
  SELECT * FROM win ORDER BY id LIMIT :first
)
SELECT json_build_object('data', json_build_object('projects', json_build_object(
  'totalCount', (SELECT count(*) FROM projects),
  'edges', coalesce((
    SELECT json_agg(json_build_object(
             'cursor', {cursor},
             'node', json_build_object('id', {project_id}, 'title', title, 'phase', upper(phase)))
           ORDER BY id)
    FROM page), '[]'::json),
  'pageInfo', json_build_object(
    'hasNextPage', (SELECT count(*) FROM win) > :first,
    'endCursor', (SELECT {end_cursor} FROM page)))))::text
"""

# SQLite 3.40 has no ORDER BY inside aggregates: json_group_array over an ordered subquery
# (SQLite aggregates in the subquery's order); json(...) keeps nested values JSON, not text.
# The ids are computed in CTEs: written at the innermost level, the base64 expression
# overflows SQLite's parser stack.
SQLITE_NESTED = """
WITH theme_rows AS (SELECT id, name, {theme_id} AS gid FROM themes),
project_rows AS (SELECT id, title, {project_id} AS gid FROM projects),
institution_rows AS (SELECT id, name_en, {institution_id} AS gid FROM institutions)
SELECT json_object('data', json_object('themes', json((
  SELECT json_group_array(json(theme)) FROM (
    SELECT json_object(
             'id', t.gid,
             'name', t.name,
             'projects', json((
               SELECT json_group_array(json(project)) FROM (
                 SELECT json_object(
                          'id', pr.gid,
                          'title', pr.title,
                          'institutions', json((
                            SELECT json_group_array(json(link)) FROM (
                              SELECT json_object(
                                       'role', upper(pi.role),
                                       'institution', json_object(
                                         'id', inst.gid,
                                         'nameEn', inst.name_en)) AS link
                              FROM project_institutions pi
                              JOIN institution_rows inst ON inst.id = pi.institution_id
                              WHERE pi.project_id = pr.id
                              ORDER BY pi.id)))) AS project
                 FROM project_themes pt
                 JOIN project_rows pr ON pr.id = pt.project_id
                 WHERE pt.theme_id = t.id
                 ORDER BY pr.id)))) AS theme
    FROM theme_rows t
    ORDER BY t.id)))))
"""

SQLITE_NODE = """
SELECT json_object('data', json_object('node', json((
  SELECT json_object(
           'id', {project_id},
           'title', pr.title,
           'acronym', pr.acronym,
           'phase', upper(pr.phase),
           'startDate', pr.start_date,
           'endDate', pr.end_date,
           'themes', json((
             SELECT json_group_array(json(theme)) FROM (
               SELECT json_object('id', {theme_id}, 'name', t.name) AS theme
               FROM project_themes pt JOIN themes t ON t.id = pt.theme_id
               WHERE pt.project_id = pr.id
               ORDER BY t.id))))
  FROM projects pr WHERE pr.id = :id))))
"""

SQLITE_PAGE = """
WITH win AS (
  SELECT id, title, phase FROM projects WHERE id > :after ORDER BY id LIMIT :peek
), page AS (
  SELECT * FROM win ORDER BY id LIMIT :first
)
SELECT json_object('data', json_object('projects', json_object(
  'totalCount', (SELECT count(*) FROM projects),
  'edges', json((
    SELECT json_group_array(json(edge)) FROM (
      SELECT json_object(
               'cursor', {cursor},
               'node', json_object('id', {project_id}, 'title', title, 'phase', upper(phase)))
             AS edge
      FROM page
      ORDER BY id))),
  'pageInfo', json_object(
    'hasNextPage', json(CASE WHEN (SELECT count(*) FROM win) > :first
                        THEN 'true' ELSE 'false' END),
    'endCursor', (SELECT {end_cursor} FROM page)))))
"""


@dataclass(frozen=True)
class HandSql:
    nested: TextClause
    node: TextClause
    page: TextClause


def hand_sql(dialect: str) -> HandSql:
    nested, node, page = (
        (PG_NESTED, PG_NODE, PG_PAGE)
        if dialect == "postgresql"
        else (SQLITE_NESTED, SQLITE_NODE, SQLITE_PAGE)
    )
    if dialect == "postgresql":
        theme, project, institution = "t.id", "pr.id", "inst.id"
    else:  # SQLite's nested statement computes the ids in CTEs over the tables themselves
        theme = project = institution = "id"
    return HandSql(
        nested=text(
            nested.format(
                theme_id=global_id(dialect, "Theme", theme),
                project_id=global_id(dialect, "Project", project),
                institution_id=global_id(dialect, "Institution", institution),
            )
        ),
        node=text(
            node.format(
                project_id=global_id(dialect, "Project", "pr.id"),
                theme_id=global_id(dialect, "Theme", "t.id"),
            )
        ),
        page=text(
            page.format(
                cursor=cursor(dialect, "id"),
                project_id=global_id(dialect, "Project", "id"),
                end_cursor=cursor(dialect, "max(id)"),
            )
        ),
    )


def public_phases_sql() -> str:
    """The public phases as a list of SQL literals, for `phase IN (...)`."""
    return ", ".join(f"'{phase.value}'" for phase in PUBLIC_PHASES)


# ---- the endpoints ---------------------------------------------------------------------


def hand_engine(url: str) -> AsyncEngine:
    """The hand-written endpoints' PostgreSQL connections: autocommit (no BEGIN and
    ROLLBACK round trips around the one SELECT) and no pre-ping at checkout, as a
    hand-written asyncpg endpoint's own pool."""
    return create_async_engine(url, pool_size=10, pool_pre_ping=False, isolation_level="AUTOCOMMIT")


def hand_app(engine: AsyncEngine) -> Starlette:
    """One statement per request; the database's JSON text is the response body. On
    PostgreSQL in autocommit, as the compiled fast path runs its statement: no BEGIN and
    ROLLBACK round trips around it (what is compared is the work around one statement)."""
    sql = hand_sql(engine.dialect.name)
    if engine.dialect.name == "postgresql":
        engine = engine.execution_options(isolation_level="AUTOCOMMIT")

    async def answer(statement: TextClause, params: dict[str, Any]) -> Response:
        async with engine.connect() as conn:
            body = (await conn.execute(statement, params)).scalar_one()
        return Response(body, media_type="application/json")

    async def themes(_: Request) -> Response:
        return await answer(sql.nested, {})

    async def project(request: Request) -> Response:
        return await answer(sql.node, {"id": request.path_params["id"]})

    async def projects(request: Request) -> Response:
        first = int(request.query_params.get("first", PAGE_SIZE))
        after = request.query_params.get("after")
        key = decode_cursor(after, "after") if after else 0
        return await answer(sql.page, {"first": first, "peek": first + 1, "after": key})

    return Starlette(
        routes=[
            Route("/themes", themes),
            Route("/projects/{id:int}", project),
            Route("/projects", projects),
        ]
    )
