"""Custom scalars, registered in the schema's StrawberryConfig.scalar_map."""

from __future__ import annotations

from collections.abc import Mapping
from typing import NewType

import strawberry
from graphql import GraphQLError
from strawberry.types.scalar import ScalarDefinition

from server.core.errors import ErrorCode
from server.core.languages import LanguageError, standard_tag

Long = NewType("Long", int)
LanguageTag = NewType("LanguageTag", str)


def _parse_tag(value: object) -> str:
    """A tag an argument names, in its standard form; a request naming a tag that is not
    one is refused before it runs (with the code in `extensions`)."""
    if not isinstance(value, str):
        raise GraphQLError(
            "a language tag is a string", extensions={"code": ErrorCode.INVALID_LANGUAGE_TAG}
        )
    try:
        return standard_tag(value, None)
    except LanguageError as error:
        first = error.details[0]
        raise GraphQLError(first.message, extensions={"code": str(first.code)}) from None


SCALARS: Mapping[object, ScalarDefinition] = {
    Long: strawberry.scalar(
        name="Long",
        description="A 64-bit integer (byte sizes beyond GraphQL Int's 32 bits), as a JSON number",
        serialize=int,
        parse_value=int,
    ),
    LanguageTag: strawberry.scalar(
        name="LanguageTag",
        description="A BCP 47 language tag (ja, en, th, pt-BR, zh-Hant, ...), read in its"
        " standard form; a tag that is malformed (INVALID_LANGUAGE_TAG) or names no registered"
        " language (UNKNOWN_LANGUAGE) refuses the request",
        serialize=str,
        parse_value=_parse_tag,
    ),
}
