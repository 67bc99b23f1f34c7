"""schemathesis in its GraphQL mode against the ASGI app: every query and mutation field,
a bounded number of generated documents each, anonymously, as a researcher's token and as
an admin's token (whose writes pass the permission checks, so generated values reach the
services and the database).

What must hold for every answer (`check_answer`):

- no 5xx: an HTTP status under 500;
- a GraphQL answer: a JSON object with `data` and/or a non-empty `errors` list;
- no masked error: "Unexpected error." means an exception nobody handled, a failure here;
- no unmasked error text: each error carries `extensions.code` from the codes the API
  documents (`KNOWN_CODES`) or a domain code, and no message holds a Python traceback, an
  exception class name or SQL.

And for the run as a whole (`test_the_run_reached_the_resolvers`, after it, when the whole
run was selected; `-s` prints its figures): no answer was a 429; at least half the answers
of each principal, and 90% of those to documents that passed validation (schemathesis also
sends invalid ones), came from a resolver (data, or a resolver's coded error) rather than a
gate in front of it (authentication, permission, scope, limits); multipart uploads and
recordMeasurement's decimals reached theirs.

`Upload` values go as the GraphQL multipart request spec sends them: the generator puts a
marker where a file goes, and the test sends that document as `operations` with a variable
per marker, `map`, and a real file part (`as_multipart`); a few stay inline text, which
the resolver must refuse with a code. `Decimal` values are decimal strings of any exponent
(and some text).

The app is the real one (`server.http.app.create_app`) on its own migrated SQLite database with
the demo graph and its datasets (plus a draft of the first, DatasetVersion:6), served in schemathesis's ASGI event loop. Rate limits are raised far above
what the run spends (the limiter still runs and charges each request) and the cost limit is
raised so that generated `first:` values reach the resolvers instead of stopping at the
cost check; both limits have their own just-under/just-over tests (test_protection.py).

Generated IDs are mostly real relay ids (base64 "Type:n" for the first rows of each
type), so `node`, `nodes` and the mutations' ids reach rows, plus some arbitrary text.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import json
import os
import re
import threading
from collections import Counter, defaultdict
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import graphql
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.graphql import nodes
from sqlalchemy import select
from urllib3 import encode_multipart_formdata

from server.access.auth import ensure_account, issue_token, principal_of
from server.core.config import Settings
from server.core.db import make_engine, session_factory
from server.datasets.service import start_draft
from server.demo import seed_demo
from server.http.app import create_app
from server.migrations import upgrade
from server.models import Dataset, ProjectMember
from server.models.enums import AccountRole
from server.storage import store_from_settings
from tests.conftest import GraphQLClient
from workers.demo import seed_demo_datasets

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
REACHED_SHARE = 0.5  # of each principal's answers, at the least, came from a resolver
VALID_REACHED_SHARE = 0.9  # of those to documents that passed validation
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
# decimals as clients send them (strings), with any exponent: 1E+999999999999999999 once
# raised Overflow in the check (test_pdm.py pins it), and some text
schemathesis.graphql.scalar(
    "Decimal",
    st.one_of(
        st.decimals(allow_nan=False, allow_infinity=False, places=3).map(str),
        st.decimals().map(str),
        st.builds("{}E{}".format, st.integers(-(10**6), 10**6), st.integers(-(10**20), 10**20)),
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
# A file goes as a part of a multipart request (tests/schema/test_upload_multipart.py): the
# generated document holds a marker naming one of FILES, `as_multipart` turns it into a
# variable mapped to that file. Some values stay inline text (no file: a coded refusal).
UPLOAD_MARK = "satreps-fuzz-upload:"
FILES: tuple[tuple[str, bytes, str], ...] = (
    ("levels.csv", b"site,level\nA,1.5\nB,2.25\n", "text/csv"),
    ("empty.csv", b"", "text/csv"),
    ("../../escape.csv", b"a,b\n1,2\n", "text/csv"),
    (
        "\u30c7\u30fc\u30bf.json",
        '[{"\u540d": "\u4eac\u90fd", "n": 1}]'.encode(),
        "application/json",
    ),
    ("blob.bin", bytes(range(256)) * 4, "application/octet-stream"),
    ("ragged.tsv", b"a\tb\n1\n2\t3\t4\n\xff\xfe\n", ""),
)
schemathesis.graphql.scalar(
    "Upload",
    st.one_of(
        st.sampled_from(range(len(FILES))).map(lambda i: nodes.String(f"{UPLOAD_MARK}{i}")),
        st.text(max_size=8).map(nodes.String),
    ),
)

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


async def _seed(url: str, settings: Settings) -> dict[str, str]:
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
            admin = await ensure_account(session, "fuzz-admin", AccountRole.ADMIN)
            import datetime as dt

            _, token = await issue_token(session, researcher, ttl=dt.timedelta(hours=1))
            _, admin_token = await issue_token(session, admin, ttl=dt.timedelta(hours=1))
            await session.commit()
        # the demo's datasets, and a draft of the first (DatasetVersion:6) that uploads can
        # reach: generated ids of datasets, versions, files and uploads name real rows
        await seed_demo_datasets(settings, session_factory(engine), store_from_settings(settings))
        async with session_factory(engine)() as session:
            first = await session.scalar(select(Dataset.id).order_by(Dataset.id).limit(1))
            assert first is not None
            await start_draft(session, principal_of(admin, frozenset({"admin"})), first)
            await session.commit()
    finally:
        await engine.dispose()
    return {"anonymous": "", "researcher": token, "admin": admin_token}


@pytest.fixture(scope="module")
def fuzz_database(tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, dict[str, str]]:
    """One migrated SQLite database with the demo graph for the module, and the tokens."""
    root = tmp_path_factory.mktemp("schemathesis")
    url = f"sqlite+aiosqlite:///{root / 'fuzz.db'}"
    upgrade(url)
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
    tokens = _run(lambda: _seed(url, app_settings))
    return app_settings, tokens


@pytest.fixture
def fuzz_app(fuzz_database: tuple[Settings, dict[str, str]]) -> Any:
    """A new app for each test: schemathesis starts its lifespan in its own event loop and
    ends it when the test ends (its pytest plugin), and a lifespan runs once per app."""
    return create_app(fuzz_database[0])


@pytest.fixture(params=["anonymous", "researcher", "admin"])
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
            problems.append(
                f"masked internal error (an unhandled exception) at {error.get('path')}"
            )
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
        ({"data": None, "errors": [{"message": MASKED}]}, ["masked internal error"]),
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


def as_multipart(query: str) -> tuple[bytes, str] | None:
    """The document as a GraphQL multipart request (body, content type), each Upload marker
    a variable mapped to its file part; None when it holds no marker."""
    marks: list[tuple[str, int]] = []

    class Swap(graphql.Visitor):
        def enter_string_value(self, node: graphql.StringValueNode, *_: Any) -> Any:
            if not node.value.startswith(UPLOAD_MARK):
                return None
            name = f"upload{len(marks)}"
            marks.append((name, int(node.value.removeprefix(UPLOAD_MARK))))
            return graphql.VariableNode(name=graphql.NameNode(value=name))

    document = graphql.visit(graphql.parse(query), Swap())
    if not marks:
        return None
    operation = document.definitions[0]
    assert isinstance(operation, graphql.OperationDefinitionNode)
    upload = graphql.NonNullTypeNode(
        type=graphql.NamedTypeNode(name=graphql.NameNode(value="Upload"))
    )
    variables = (
        *(operation.variable_definitions or ()),
        *(
            graphql.VariableDefinitionNode(
                variable=graphql.VariableNode(name=graphql.NameNode(value=name)),
                type=upload,
                directives=(),
            )
            for name, _ in marks
        ),
    )
    operation = dataclasses.replace(operation, variable_definitions=variables)
    document = dataclasses.replace(document, definitions=(operation, *document.definitions[1:]))
    operations = {
        "query": graphql.print_ast(document),
        "variables": dict.fromkeys(n for n, _ in marks),
    }
    parts: list[tuple[str, Any]] = [
        ("operations", json.dumps(operations)),
        ("map", json.dumps({str(i): [f"variables.{n}"] for i, (n, _) in enumerate(marks)})),
        *((str(i), FILES[k]) for i, (_, k) in enumerate(marks)),
    ]
    return encode_multipart_formdata(parts)


# what each principal's answers were: HTTP statuses, and whether a resolver answered
RUN: dict[str, Counter[str]] = defaultdict(Counter)
GATES = frozenset(
    {"UNAUTHENTICATED", "FORBIDDEN", "INSUFFICIENT_SCOPE", "RATE_LIMITED", "QUERY_TOO_COSTLY"}
)


def reached_resolver(body: object) -> bool:
    """A resolver answered: some root field has data, or an error at a field carries a code
    other than a gate's (authentication, permission, scope, rate or cost limits)."""
    if not isinstance(body, dict):
        return False
    data = body.get("data")
    if isinstance(data, dict) and (
        not body.get("errors") or any(value is not None for value in data.values())
    ):
        return True  # a resolver's answer, null included (node of an unseen id)
    return any(
        error.get("path") and (error.get("extensions") or {}).get("code") not in GATES
        for error in body.get("errors") or []
    )


def _operations() -> frozenset[str]:
    built = graphql.build_schema(SDL.read_text())
    roots = [built.query_type, built.mutation_type]
    return frozenset(f"{root.name}.{field}" for root in roots if root for field in root.fields)


OPERATIONS = _operations()  # what a whole run fuzzes, per principal
SEEN: dict[str, set[str]] = defaultdict(set)


def tally(principal: str, operation: str, status: int, body: object, multipart: bool) -> None:
    SEEN[principal].add(operation)
    counts = RUN[principal]
    counts[f"HTTP {status}"] += 1
    reached = reached_resolver(body)
    counts["reached" if reached else "stopped"] += 1
    if not reached:
        errors = (body.get("errors") if isinstance(body, dict) else None) or [{}]
        counts[f"stopped by {(errors[0].get('extensions') or {}).get('code')}"] += 1
    if multipart:
        counts["multipart"] += 1
        counts["multipart reached"] += reached
    counts[f"{operation} reached"] += reached


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
    query = case.body if isinstance(case.body, str) else str(case.body["query"])
    multipart = as_multipart(query)
    if multipart is None:
        response = case.call(app=fuzz_app, headers=headers)
    else:
        body, content_type = multipart
        headers |= {"Content-Type": content_type, "Apollo-Require-Preflight": "true"}
        response = case.call(app=fuzz_app, headers=headers, data=body)
    try:
        answer = response.json()
    except ValueError:
        answer = response.text
    tally(principal, case.operation.label, response.status_code, answer, multipart is not None)
    check_answer(response.status_code, answer, query)


def test_the_run_reached_the_resolvers() -> None:
    """After the run (the test above, defined first, runs first): no 429s, most answers from
    resolvers, and files and decimals reached theirs."""
    if set(SEEN) != {"anonymous", "researcher", "admin"} or any(
        seen != OPERATIONS for seen in SEEN.values()
    ):
        pytest.skip("only a part of the run was selected (-k): its figures say little")
    for principal, counts in RUN.items():
        shown = {
            k: v for k, v in sorted(counts.items()) if not k.startswith(("Query.", "Mutation."))
        }
        focus = {
            k: counts[k]
            for k in ("Mutation.uploadFile reached", "Mutation.recordMeasurement reached")
        }
        print(f"\nschemathesis run, {principal}: {shown} {focus}")
    for principal, counts in RUN.items():
        answers = counts["reached"] + counts["stopped"]
        assert counts["HTTP 429"] == 0, (principal, counts)
        assert counts["reached"] >= answers * REACHED_SHARE, (principal, counts)
        # the rest are mostly schemathesis's invalid documents, refused by validation: of
        # the valid ones, nearly all reach a resolver
        valid = answers - counts["stopped by GRAPHQL_VALIDATION_FAILED"]
        assert counts["reached"] >= valid * VALID_REACHED_SHARE, (principal, counts)
    for principal in ("researcher", "admin"):
        counts = RUN[principal]
        assert counts["multipart reached"] > 0, (principal, counts)
        assert counts["Mutation.recordMeasurement reached"] > 0, (principal, counts)


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
