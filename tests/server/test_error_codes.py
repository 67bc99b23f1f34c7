"""Error codes are enums: the shared ones (server.core.errors.ErrorCode) and each domain's
(server/<domain>/errors.py), each domain's GraphQL error type answering both."""

from __future__ import annotations

import ast
import importlib
from enum import StrEnum
from pathlib import Path

import pytest
import strawberry

from schema import build_schema
from schema.errors import ERROR_TYPES, UserError
from schema.payloads import error_type_of
from server.core.errors import ErrorCode, QueryErrorCode
from server.datasets.archives import LeftOutCode
from server.notifications.delivery_codes import DeliveryCode

SERVER = Path(__file__).parents[2] / "server"
# codes answered only as GraphQL errors of reads, or by the CLI: no mutation payload has them
NOT_IN_PAYLOADS = {"AnalyticsErrorCode", "SearchErrorCode", "AccessErrorCode", "BackupErrorCode"}


def domain_enums() -> dict[str, type[StrEnum]]:
    """Every domain's enum of codes, by its package (server/<package>/errors.py)."""
    found = {}
    for path in sorted(SERVER.glob("*/errors.py")):
        if path.parent.name in ("core", "storage"):
            continue
        module = importlib.import_module(f"server.{path.parent.name}.errors")
        (enum,) = [
            v
            for v in vars(module).values()
            if isinstance(v, type) and issubclass(v, StrEnum) and v.__module__ == module.__name__
        ]  # (an errors module may also define its exception class, as server/backup's does)
        found[path.parent.name] = enum
    return found


def referenced_enums(package: Path) -> set[str]:
    """The names of the code enums a package's modules refer to (`XErrorCode.CODE`)."""
    names = set()
    for path in package.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
                if node.value.id.endswith("ErrorCode"):
                    names.add(node.value.id)
    return names


def test_every_code_keeps_its_string() -> None:
    for enum in (ErrorCode, QueryErrorCode, *domain_enums().values()):
        assert [c.value for c in enum] == [c.name for c in enum], enum.__name__


def test_codes_are_defined_once() -> None:
    seen: dict[str, str] = {}
    for enum in (ErrorCode, QueryErrorCode, *domain_enums().values()):
        for code in enum:
            assert code.value not in seen, f"{code.value} in {enum.__name__} and {seen[code.value]}"
            seen[code.value] = enum.__name__


def test_a_domain_raises_only_the_shared_codes_and_its_own() -> None:
    """A code two domains use belongs in ErrorCode: each domain's error type lists only the
    shared codes and its own, so a code borrowed from another domain could not be answered."""
    enums = domain_enums()
    for package, enum in enums.items():
        used = referenced_enums(SERVER / package)
        assert enum.__name__ in used, f"server/{package} never raises its {enum.__name__}"
        foreign = used - {enum.__name__, "ErrorCode", "QueryErrorCode"}
        assert not foreign, f"server/{package} raises codes of {sorted(foreign)}"
    for package in ("core", "access", "storage", "models", "http", "demo"):
        used = referenced_enums(SERVER / package) - {"ErrorCode", "QueryErrorCode"}
        assert used <= {"AccessErrorCode"} if package == "access" else not used, package


def test_every_domain_with_mutations_has_an_error_type_in_the_schema() -> None:
    build_schema()
    answered = {enum for enums in ERROR_TYPES.values() for enum in enums}
    for enum in domain_enums().values():
        assert (enum in answered) != (enum.__name__ in NOT_IN_PAYLOADS), enum.__name__
    for name, enums in ERROR_TYPES.items():
        assert enums[0] is ErrorCode and len(enums) == 2, name
        assert enums[1].__name__ == f"{name}Code", name


def test_every_payload_answers_its_domain_error_type() -> None:
    """Each mutation's payload has `errors: [<Domain>Error!]!` (so `payload()` can build
    them); none is left with the interface itself."""
    schema = build_schema()
    for field in schema._schema.mutation_type.fields.values():
        payload_type = field.type.of_type if hasattr(field.type, "of_type") else field.type
        origin = schema.get_type_by_name(payload_type.name)
        error_type = error_type_of(origin.origin)
        assert issubclass(error_type, UserError) and error_type is not UserError


def test_a_payload_without_typed_errors_is_refused() -> None:
    @strawberry.type
    class Loose:
        errors: list[str]

    with pytest.raises(TypeError, match="not a list of a UserError type"):
        error_type_of(Loose)


@pytest.mark.parametrize(
    "type_name, enum",
    [("LeftOutFile", LeftOutCode), ("DeliveryAttempt", DeliveryCode)],
)
def test_the_codes_outside_payloads_are_enums_of_the_sdl_too(
    type_name: str, enum: type[StrEnum]
) -> None:
    """A file versionDownload leaves out and a delivery's attempt carry a code a client can
    discover from the schema: an enum whose values are the codes' strings."""
    code_type = build_schema()._schema.get_type(type_name).fields["code"].type
    named = getattr(code_type, "of_type", code_type)  # LeftOutCode! or DeliveryCode
    assert named.name == enum.__name__
    assert list(named.values) == [c.value for c in enum] == [c.name for c in enum]
