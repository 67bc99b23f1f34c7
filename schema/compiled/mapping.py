"""How the compiled read path answers a strawberry type, declared on the type itself.

    @compiled(country=country_of("country_code"), python=("preview",))
    @strawberry.type
    class Institution(relay.Node): ...

A field without a resolver is read from the model column of the same (Python) name, by its
type: a relay `id` as the global id, a date, a datetime, an enum's member name, or the
column as it is (str, int, float, bool). A field with a resolver names its builder in the
decorator, or is listed in `python=` when strawberry's resolver answers it (the compiler
then leaves the root field to strawberry). A mixin that adds fields to a type (a domain's
fields on Project) is declared the same way and its declaration joins the type's.

`resolve_fields` works out every declared type's map when the schema is built: a field that
is neither plain, nor given a builder, nor left to Python stops the schema from building, so
a new field is one edit and a missed one is noticed at once.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

from strawberry.types.base import StrawberryOptional, get_object_definition
from strawberry.types.enum import StrawberryEnumDefinition
from strawberry.types.field import StrawberryField
from strawberry.types.private import is_private
from strawberry.utils.str_converters import to_camel_case

if TYPE_CHECKING:
    from schema.compiled.compiler import Builder

C = TypeVar("C", bound=type)

# the map the compiler reads: GraphQL type name -> GraphQL field name -> builder
FIELDS: dict[str, dict[str, Builder]] = {}


@dataclass(frozen=True)
class Declaration:
    builders: dict[str, Builder]  # by Python field name
    python: frozenset[str]  # Python field names strawberry's resolvers answer
    partial: bool  # a mixin: its fields join the types that inherit it


DECLARED: dict[type, Declaration] = {}


class MappingError(TypeError):
    """A declared type has a field the compiled path can neither derive nor was told of."""


def compiled(
    *maps: Mapping[str, Builder],
    python: Iterable[str] = (),
    partial: bool = False,
    **builders: Builder,
) -> Callable[[C], C]:
    """Declares how the compiled path answers the decorated strawberry type (apply it above
    `@strawberry.type`): builders by attribute name, given one by one or as maps (those of a
    field pair: schema.texts.text_builders). `partial` marks a mixin of fields for other
    types."""
    merged: dict[str, Builder] = {}
    for declared in (*maps, builders):
        merged |= declared

    def declare(cls: C) -> C:
        DECLARED[cls] = Declaration(merged, frozenset(python), partial)
        return cls

    return declare


def resolve_fields() -> dict[str, dict[str, Builder]]:
    """Every declared (non-mixin) type's field map, into FIELDS; idempotent."""
    for cls, declaration in DECLARED.items():
        if not declaration.partial:
            definition = get_object_definition(cls, strict=True)
            FIELDS[definition.name] = _type_fields(cls)
    return FIELDS


def _type_fields(cls: type) -> dict[str, Builder]:
    definition = get_object_definition(cls, strict=True)
    declarations = [DECLARED[k] for k in reversed(cls.__mro__) if k in DECLARED]
    builders = {n: b for d in declarations for n, b in d.builders.items()}
    python = frozenset().union(*(d.python for d in declarations))
    names = {f.python_name for f in definition.fields}
    unknown = (set(builders) | python) - names
    if unknown:
        raise MappingError(f"{definition.name}: no such field {sorted(unknown)}")
    fields: dict[str, Builder] = {}
    for field in definition.fields:
        name = field.python_name
        annotation = field.type_annotation
        if name in python or (annotation is not None and is_private(annotation.annotation)):
            continue
        build = builders.get(name) or _derived(definition.name, field)
        fields[field.graphql_name or to_camel_case(name)] = build
    return fields


def _derived(type_name: str, field: StrawberryField) -> Builder:
    from schema.compiled import compiler as k

    if field.graphql_name == "id" and field.base_resolver is not None:  # relay.Node's id
        return k.global_id(type_name)
    if field.base_resolver is not None:
        raise MappingError(
            f"{type_name}.{field.python_name} has a resolver: give the compiled path its "
            "builder in @compiled(...), or list it in python=(...)"
        )
    kind = field.type
    if isinstance(kind, StrawberryOptional):
        kind = kind.of_type
    name = field.python_name
    if isinstance(kind, StrawberryEnumDefinition):
        return k.as_enum(name, kind.wrapped_cls)
    if kind is dt.datetime:
        return k.as_datetime(name)
    if kind is dt.date:
        return k.as_date(name)
    if kind in (str, int):  # floats, booleans and JSON need their dialect's care: a builder
        return k.column(name)
    raise MappingError(f"{type_name}.{name}: no column rule for {kind!r}: give its builder")
