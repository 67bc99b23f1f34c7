"""schemathesis in its GraphQL mode against the ASGI app: every query and mutation field,
a bounded number of generated documents each, as anonymous and as a researcher's token.

What must hold for every answer (`check_answer`):

- no 5xx: an HTTP status under 500;
- a GraphQL answer: a JSON object with `data` and/or a non-empty `errors` list;
- no unmasked error text: each error either is masked (message exactly "Unexpected error."),
  or carries `extensions.code` from the codes the API documents (`KNOWN_CODES`); and no
  message, masked or not, holds a Python traceback, an exception class name or SQL.

The app is the real one (`server.http.app.create_app`) on its own migrated SQLite database with
the demo graph, served in schemathesis's ASGI event loop. Rate limits are raised far above
what the run spends (the limiter still runs and charges each request) and the cost limit is
raised so that generated `first:` values reach the resolvers instead of stopping at the
cost check; both limits have their own just-under/just-over tests (test_protection.py).

Generated IDs are mostly real relay ids (base64 "Type:n" for the first rows of each
type), so `node`, `nodes` and the mutations' ids reach rows, plus some arbitrary text.
"""

from __future__ import annotations

import asyncio
import base64
import os
import re
import threading
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.graphql import nodes
from sqlalchemy import select

from server.access.auth import ensure_account, issue_token
from server.core.config import Settings
from server.core.db import make_engine, session_factory
from server.demo import seed_demo
from server.http.app import create_app
from server.migrations import upgrade
from server.models import ProjectMember
from server.models.enums import AccountRole
from tests.conftest import GraphQLClient

SDL = Path(__file__).resolve().parents[2] / "schema" / "schema.graphql"
MAX_EXAMPLES = int(os.environ.get("SATREPS_FUZZ_EXAMPLES", "8"))  # more: a longer hunt

# Codes an error of the GraphQL layer or a resolver may carry (README "Access control").
KNOWN_CODES = frozenset(
    {
        # GraphQL layer (schema.protection.tag_error) and limits
        "GRAPHQL_PARSE_FAILED",
        "GRAPHQL_VALIDATION_FAILED",
        "QUERY_TOO_DEEP",
        "QUERY_TOO_LARGE",
        "TOO_MANY_ALIASES",
        "INTROSPECTION_DISABLED",
        "QUERY_TOO_COSTLY",
        "RATE_LIMITED",
        "INSUFFICIENT_SCOPE",
        "TIMEOUT",
        # HTTP layer (server.http.app)
        "UNAUTHENTICATED",
        "REQUEST_TOO_LARGE",
    }
)
# Resolvers' public errors carry a DomainError's code: upper snake case, checked by shape.
DOMAIN_CODE = re.compile(r"^[A-Z][A-Z0-9]*(_[A-Z0-9]+)*$")
MASKED = "Unexpected error."
LEAK = re.compile(
    r"Traceback \(most recent call last\)|File \"[^\"]+\", line \d+"
    r"|\b\w+(Error|Exception)\b\(|sqlalchemy|asyncpg|aiosqlite|sqlite3"
    r"|\bSELECT\b.+\bFROM\b|\bINSERT INTO\b|\bUPDATE\b.+\bSET\b"
)

# ---- value strategies for the custom scalars and IDs ------------------------------------

ID_TYPES = (
    "Project",
    "Institution",
    "Researcher",
    "Theme",
    "Dataset",
    "DatasetVersion",
    "DatasetFile",
    "DatasetUpload",
    "Indicator",
    "PdmElement",
    "TrainingCourse",
    "EquipmentItem",
    "LearningMaterial",
)


def _relay_id(type_name: str, row: int) -> str:
    return base64.b64encode(f"{type_name}:{row}".encode()).decode()


schemathesis.graphql.scalar(
    "ID",
    st.one_of(
        st.builds(_relay_id, st.sampled_from(ID_TYPES), st.integers(1, 6)),
        st.builds(_relay_id, st.sampled_from(ID_TYPES), st.integers(-(2**40), 2**40)),
        st.text(max_size=12),
    ).map(nodes.String),
)
schemathesis.graphql.scalar(
    "Decimal",
    st.one_of(
        st.decimals(allow_nan=False, allow_infinity=False, places=3).map(str),
        st.text(max_size=8),
    ).map(nodes.String),
)
schemathesis.graphql.scalar(
    "JSON",
    st.one_of(
        st.text(max_size=10).map(nodes.String),
        st.integers().map(nodes.Int),
        st.booleans().map(nodes.Boolean),
    ),
)
# a file goes as a multipart part (tests/schema/test_upload_multipart.py); inline, only text
schemathesis.graphql.scalar("Upload", st.text(max_size=8).map(nodes.String))

schema = schemathesis.graphql.from_path(SDL)
schema.config.update(base_url="http://testserver/graphql")  # where create_app serves it


# ---- the app ----------------------------------------------------------------------------


def _run[T](coroutine: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run set-up coroutines on a loop of their own (the tests' loop may be running)."""
    result: list[T] = []
    thread = threading.Thread(target=lambda: result.append(asyncio.run(coroutine())))
    thread.start()
    thread.join()
    assert result, "the set-up coroutine failed (see the thread's traceback above)"
    return result[0]


async def _seed(url: str) -> dict[str, str]:
    engine = make_engine(url)
    try:
        async with session_factory(engine)() as session:
            await seed_demo(session)
            member = await session.scalar(
                select(ProjectMember.researcher_id).order_by(ProjectMember.id).limit(1)
            )
            assert member is not None
            researcher = await ensure_account(
                session, "fuzz-researcher", AccountRole.RESEARCHER, researcher_id=member
            )
            import datetime as dt

            _, token = await issue_token(session, researcher, ttl=dt.timedelta(hours=1))
            await session.commit()
    finally:
        await engine.dispose()
    return {"anonymous": "", "researcher": token}


@pytest.fixture(scope="module")
def fuzz_database(tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, dict[str, str]]:
    """One migrated SQLite database with the demo graph for the module, and the tokens."""
    root = tmp_path_factory.mktemp("schemathesis")
    url = f"sqlite+aiosqlite:///{root / 'fuzz.db'}"
    upgrade(url)
    tokens = _run(lambda: _seed(url))
    app_settings = Settings(
        database_url=url,
        object_dir=root / "objects",
        # far above what the run spends: the limiter charges but never refuses (the most
        # rateLimit can report: its fields are GraphQL Int, 32 bits)
        rate_limit_points=2**31 - 1,
        rate_limit_anonymous_points=2**31 - 1,
        # generated first: values reach the resolvers (the limit has its own tests)
        max_query_cost=2**40,
    )
    return app_settings, tokens


@pytest.fixture
def fuzz_app(fuzz_database: tuple[Settings, dict[str, str]]) -> Any:
    """A new app for each test: schemathesis starts its lifespan in its own event loop and
    ends it when the test ends (its pytest plugin), and a lifespan runs once per app."""
    return create_app(fuzz_database[0])


@pytest.fixture(params=["anonymous", "researcher"])
def principal(request: pytest.FixtureRequest) -> str:
    return str(request.param)


# ---- the check --------------------------------------------------------------------------


def unmasked_errors(body: object) -> list[str]:
    """What is wrong with a GraphQL answer's errors; empty when nothing is."""
    if not isinstance(body, dict) or not ("data" in body or body.get("errors")):
        return [f"not a GraphQL answer: {body!r:.300}"]
    problems = []
    for error in body.get("errors") or []:
        message = error.get("message", "")
        code = (error.get("extensions") or {}).get("code")
        if LEAK.search(message):
            problems.append(f"internal text in {message!r}")
        elif message == MASKED:
            continue
        elif code is None:
            problems.append(f"error without extensions.code: {message!r}")
        elif code not in KNOWN_CODES and not DOMAIN_CODE.match(code):
            problems.append(f"unknown code {code!r}: {message!r}")
    return problems


def blanked(body: object) -> list[str]:
    """A client's mistake in one field (an error at a path, with a code) must leave the rest
    of the answer: `data` null is for requests that could not run at all."""
    if not isinstance(body, dict) or "data" not in body or body["data"] is not None:
        return []
    return [
        f"{error['extensions']['code']} at {error['path']} blanked the whole response"
        for error in body.get("errors") or []
        if error.get("path") and (error.get("extensions") or {}).get("code")
    ]


def check_answer(status: int, body: object, query: str) -> None:
    assert status < 500, f"HTTP {status} for\n{query}\n{body!r:.1000}"
    problems = unmasked_errors(body) + blanked(body)
    assert not problems, "\n".join([*problems, f"query:\n{query}"])


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"data": {"x": 1}}, []),
        ({"data": None, "errors": [{"message": MASKED}]}, []),
        ({"errors": [{"message": "bad", "extensions": {"code": "NOT_FOUND"}}]}, []),
        ({"errors": [{"message": "Syntax Error: x"}]}, ["error without extensions.code"]),
        ({"errors": [{"message": "x", "extensions": {"code": "weird code"}}]}, ["unknown code"]),
        (
            {"errors": [{"message": 'File "/x.py", line 3', "extensions": {"code": "A"}}]},
            ["internal text"],
        ),
        ({"errors": [{"message": "IntegrityError(...) on INSERT INTO t"}]}, ["internal text"]),
        ({"errors": []}, ["not a GraphQL answer"]),
        (
            {
                "data": None,
                "errors": [{"message": "x", "path": ["a"], "extensions": {"code": "B"}}],
            },
            ["B at ['a'] blanked"],
        ),
        ({"data": {"a": None}, "errors": [{"message": "x", "path": ["a"]}]}, ["error without"]),
        ([], ["not a GraphQL answer"]),
    ],
)
def test_the_check_tells_masked_from_leaked(body: object, expected: list[str]) -> None:
    problems = unmasked_errors(body) + blanked(body)
    assert len(problems) == len(expected)
    for problem, start in zip(problems, expected, strict=True):
        assert problem.startswith(start), problem


# ---- the run ----------------------------------------------------------------------------


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,  # the same documents on every run (CI); more: SATREPS_FUZZ_EXAMPLES
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_graphql_operations(
    case: Any, fuzz_app: Any, fuzz_database: tuple[Settings, dict[str, str]], principal: str
) -> None:
    token = fuzz_database[1][principal]
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = case.call(app=fuzz_app, headers=headers)
    try:
        body = response.json()
    except ValueError:
        body = response.text
    check_answer(response.status_code, body, str(case.body))


# ---- what the run found, pinned --------------------------------------------------------


async def test_an_argument_that_is_no_global_id_is_coded_not_bare(gql: GraphQLClient) -> None:
    """Found by the run: `institutionId: ""` came back as 'Value cannot represent a
    GlobalID' with no extensions.code."""
    response = await gql.post('{ datasetStats(filter: {institutionId: ""}) { total } }')
    body = response.json()
    assert body["data"] == {"datasetStats": None}  # the field, not the response
    assert [e["extensions"] for e in body["errors"]] == [
        {"code": "INVALID_ID", "field": "filter.institutionId"}
    ]
    assert "not a valid global id" in body["errors"][0]["message"]


@pytest.mark.parametrize(
    "query",
    [
        "{ jccMeetings(filter: {year: -715}) { totalCount } }",
        "{ evaluations(filter: {year: 0}) { totalCount } }",
        "{ expertDispatches(filter: {year: 10000}) { totalCount } }",
        "{ equipmentItems(filter: {year: 0}) { totalCount } }",
        "{ projects(filter: {year: -1}) { totalCount } }",
    ],
)
async def test_a_year_python_has_no_date_for_is_refused_with_a_code(
    gql: GraphQLClient, query: str
) -> None:
    """Found by the run: a year filter outside 1..9999 raised ValueError in the resolver
    (masked as "Unexpected error." and logged as our failure)."""
    errors = await gql.errors(query)
    assert [e["extensions"]["code"] for e in errors] == ["INVALID_YEAR"]
    assert errors[0]["message"] == "year must be between 1 and 9999"


def test_a_domain_error_a_resolver_lets_out_is_coded() -> None:
    """Found by the run (a resolver in progress raised DomainError outside
    schema.errors.read()): the error keeps its message and gets the domain code."""
    from graphql import GraphQLError

    from schema.protection import tag_error
    from server.core.errors import DomainError

    original = DomainError.one("INVALID_ID", "filter.themes must be the id of a Theme", "themes")
    error = GraphQLError(str(original), path=["activityTimeSeries"], original_error=original)
    tag_error(error)
    assert error.extensions == {"code": "INVALID_ID", "field": "themes"}
    assert unmasked_errors({"data": None, "errors": [error.formatted]}) == []
