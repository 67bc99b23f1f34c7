"""A malformed or unknown id in a mutation's input is an error of its payload, at the input
field it was sent in, with a stable code (INVALID_ID, NOT_FOUND): never a top-level error that
nulls the response. Every mutation is tried, from the schema itself."""

from __future__ import annotations

from typing import Any

import graphql
import pytest

from schema import build_schema
from tests.factories import gid

# needs a multipart request (the Upload scalar): tested in test_upload_multipart.py
SKIPPED = {"uploadFile"}


def _schema() -> graphql.GraphQLSchema:
    return build_schema()._schema


# the type of each id field (by its name; `id` and `parentId` by the mutation's)
ID_TYPES = {
    "projectId": "Project",
    "institutionId": "Institution",
    "ownerInstitutionId": "Institution",
    "hostInstitutionId": "Institution",
    "recipientInstitutionId": "Institution",
    "researcherId": "Researcher",
    "expertId": "Researcher",
    "counterpartIds": "Researcher",
    "themeIds": "Theme",
    "themeId": "Theme",
    "courseId": "TrainingCourse",
    "elementId": "PdmElement",
    "indicatorId": "Indicator",
    "evaluationId": "Evaluation",
    "versionId": "DatasetVersion",
    "datasetVersionId": "DatasetVersion",
    "sourceVersionIds": "DatasetVersion",
    "datasetId": "Dataset",
    "fileId": "DatasetFile",
    "uploadId": "DatasetUpload",
    "uploadIds": "DatasetUpload",
    "requestId": "AccessRequest",
    "grantId": "AccessGrant",
    "agreementId": "DataUseAgreement",
}
BY_MUTATION = {
    ("createTheme", "parentId"): "Theme",
    ("addPdmElement", "parentId"): "PdmElement",
    ("updateDataset", "id"): "Dataset",
    ("setCoverage", "id"): "Dataset",
    ("updateEquipmentStatus", "id"): "EquipmentItem",
    ("updateInstitution", "id"): "Institution",
    ("updateLearningMaterial", "id"): "LearningMaterial",
    ("updatePdmElement", "id"): "PdmElement",
    ("updateProject", "id"): "Project",
    ("updateTrainingCourse", "id"): "TrainingCourse",
    ("deleteWebhook", "id"): "Webhook",
    ("setWebhookEnabled", "id"): "Webhook",
}
UNKNOWN = 2_000_000_000
# optional in the SDL since a language-tagged list may stand for them (issue 20), but one of
# the two must be sent: the single value is
GIVEN_ONE_OF = ("title", "name")


def _sample(kind: graphql.GraphQLInputType, ids: Any, field: str = "") -> Any:
    """A value of `kind` whose ids are `ids` (a string, or a function of the field's name);
    other leaves: something plausible."""
    kind = graphql.get_nullable_type(kind)
    if isinstance(kind, graphql.GraphQLList):
        return [_sample(kind.of_type, ids, field)]
    if isinstance(kind, graphql.GraphQLInputObjectType):
        return {
            name: _sample(f.type, ids, name)
            for name, f in kind.fields.items()
            if graphql.is_required_input_field(f) or _has_id(f.type) or name in GIVEN_ONE_OF
        }
    if kind.name == "ID" and callable(ids):
        return ids(field)
    if isinstance(kind, graphql.GraphQLEnumType):
        return next(iter(kind.values))
    return {
        "ID": ids,
        "String": "Sample",
        "Int": 1,
        "Long": 1,
        "Float": 1.0,
        "Boolean": False,
        "Date": "2024-01-01",
        "DateTime": "2024-01-01T00:00:00+00:00",
        "Decimal": "1",
        "JSON": {},
    }[kind.name]


def _has_id(kind: graphql.GraphQLInputType) -> bool:
    kind = graphql.get_named_type(kind)
    if isinstance(kind, graphql.GraphQLInputObjectType):
        return any(_has_id(f.type) for f in kind.fields.values())
    return kind.name == "ID"


def _id_paths(args: dict[str, graphql.GraphQLArgument]) -> set[str]:
    """The `field` names a payload error may give for an id: an argument, or a field of
    the `input` argument (as the services name them: relative to `input`)."""
    paths = set()
    for name, arg in args.items():
        kind = graphql.get_named_type(arg.type)
        if isinstance(kind, graphql.GraphQLInputObjectType):
            paths |= {n for n, f in kind.fields.items() if _has_id(f.type)}
        elif kind.name == "ID":
            paths.add(name)
    return paths


def _mutations() -> list[str]:
    fields = _schema().mutation_type.fields
    return sorted(n for n, f in fields.items() if n not in SKIPPED and _id_paths(f.args))


def _document(name: str, field: graphql.GraphQLField) -> str:
    params = ", ".join(f"${a}: {arg.type}" for a, arg in field.args.items())
    passed = ", ".join(f"{a}: ${a}" for a in field.args)
    # a batch (startUploads, completeUploads) answers each entry's errors with the entry
    batch = "entries" in graphql.get_named_type(field.type).fields  # type: ignore[union-attr]
    entries = " entries { errors { field code } }" if batch else ""
    return f"mutation({params}) {{ {name}({passed}) {{ errors {{ field code }}{entries} }} }}"


async def _send(admin: Any, name: str, ids: Any) -> tuple[dict[str, Any], set[str]]:
    field = _schema().mutation_type.fields[name]
    variables = {a: _sample(arg.type, ids, a) for a, arg in field.args.items()}
    response = await admin.post(_document(name, field), variables)
    body = response.json()
    assert response.status_code == 200 and "errors" not in body, (name, body)
    payload = body["data"][name]
    assert payload is not None, (name, body)
    for entry in payload.pop("entries", None) or []:
        payload["errors"] = payload["errors"] + entry["errors"]
    return payload, _id_paths(field.args)


@pytest.mark.parametrize("name", _mutations())
@pytest.mark.parametrize(
    ("ids", "code"),
    [
        ("", "INVALID_ID"),  # no global id at all
        ("%%%", "INVALID_ID"),
        (gid("NoSuchType", 1), "INVALID_ID"),  # a global id of another type
    ],
)
async def test_a_bad_id_is_an_error_of_the_payload_at_its_field(
    admin: Any, name: str, ids: str, code: str
):
    payload, paths = await _send(admin, name, ids)
    assert payload["errors"], (name, payload)
    first = payload["errors"][0]
    assert (first["code"], first["field"] in paths) == (code, True), (name, payload, paths)


@pytest.mark.parametrize("name", _mutations())
async def test_an_unknown_id_is_not_found_at_its_field(admin: Any, name: str):
    """Every id of its right type and of no row: the first one looked up is NOT_FOUND at
    the input field it came in (not `id`, not the request as a whole)."""

    def unknown(field: str) -> str:
        return gid(BY_MUTATION.get((name, field)) or ID_TYPES[field], UNKNOWN)

    payload, paths = await _send(admin, name, unknown)
    assert payload["errors"], (name, payload)
    for error in payload["errors"]:
        assert (error["code"], error["field"] in paths) == ("NOT_FOUND", True), (name, payload)
