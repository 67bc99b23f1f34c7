"""The compiled path's map is declared on the strawberry types (schema/compiled/mapping.py):
plain fields are derived from their type, a resolver must be given a builder or left to
Python, and a mistake stops the schema from building."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
import strawberry
from strawberry import relay
from strawberry.types.base import get_object_definition
from strawberry.utils.str_converters import to_camel_case

from schema import build_schema
from schema.compiled import mapping
from schema.compiled.compiler import column
from schema.compiled.mapping import MappingError, compiled
from server.models.enums import ProjectPhase

Phase = strawberry.enum(ProjectPhase, name="MappingTestPhase")


@pytest.fixture
def declared() -> Iterator[None]:
    """Declarations made by a test are forgotten after it."""
    before = dict(mapping.DECLARED)
    yield
    mapping.DECLARED.clear()
    mapping.DECLARED.update(before)
    mapping.FIELDS.clear()
    mapping.resolve_fields()


def describe(builder: object) -> tuple[str, tuple[object, ...]]:
    closure = getattr(builder, "__closure__", None) or ()
    return getattr(builder, "__qualname__", ""), tuple(c.cell_contents for c in closure)


def test_plain_fields_are_derived_from_their_types(declared: None) -> None:
    @compiled(python=("shout",))
    @strawberry.type
    class Thing(relay.Node):
        id: relay.NodeID[int]
        title: str
        count: int | None
        phase: Phase  # type: ignore[valid-type]
        start_date: dt.date
        created_at: dt.datetime
        secret: strawberry.Private[str]

        @strawberry.field
        def shout(self) -> str:
            return self.title.upper()

    fields = mapping.resolve_fields()["Thing"]

    assert set(fields) == {"id", "title", "count", "phase", "startDate", "createdAt"}
    assert describe(fields["id"]) == ("global_id.<locals>.<lambda>", ("Thing",))
    assert describe(fields["title"]) == ("column.<locals>.<lambda>", ("title",))
    assert describe(fields["phase"]) == ("as_enum.<locals>.<lambda>", (ProjectPhase, "phase"))
    assert describe(fields["startDate"]) == ("as_date.<locals>.<lambda>", ("start_date",))
    assert describe(fields["createdAt"]) == ("as_datetime.<locals>.<lambda>", ("created_at",))


def test_a_resolver_left_undeclared_stops_the_map(declared: None) -> None:
    @compiled()
    @strawberry.type
    class Loud:
        title: str

        @strawberry.field
        def shout(self) -> str:
            return self.title.upper()

    with pytest.raises(MappingError, match=r"Loud\.shout has a resolver"):
        mapping.resolve_fields()


def test_a_declared_name_must_be_a_field(declared: None) -> None:
    @compiled(titel=column("title"))
    @strawberry.type
    class Typo:
        title: str

    with pytest.raises(MappingError, match="no such field"):
        mapping.resolve_fields()


def test_a_mixin_declaration_joins_the_type(declared: None) -> None:
    @compiled(partial=True, extra=column("extra_column"))
    @strawberry.type
    class Extra:
        @strawberry.field
        def extra(self) -> str:
            return ""

    @compiled()
    @strawberry.type
    class WithExtra(Extra):
        title: str

    fields = mapping.resolve_fields()
    assert "Extra" not in fields
    assert describe(fields["WithExtra"]["extra"]) == ("column.<locals>.<lambda>", ("extra_column",))


def test_every_field_of_a_compiled_type_is_compiled_or_left_to_python() -> None:
    """The real schema: each field of a declared type has a builder, or a declaration on
    the type or one of its mixins says strawberry answers it; never both."""
    type_map = build_schema()._schema.type_map
    for cls, declaration in mapping.DECLARED.items():
        if declaration.partial:
            continue
        name = get_object_definition(cls, strict=True).name
        python = {
            to_camel_case(f.python_name)
            for k in cls.__mro__
            if k in mapping.DECLARED
            for f in get_object_definition(k, strict=True).fields
            if f.python_name in mapping.DECLARED[k].python
        }
        compiled_names = set(mapping.FIELDS[name])
        assert compiled_names | python == set(type_map[name].fields), name
        assert not compiled_names & python, name
