"""Custom scalars, registered in the schema's StrawberryConfig.scalar_map."""

from __future__ import annotations

from collections.abc import Mapping
from typing import NewType

import strawberry
from strawberry.types.scalar import ScalarDefinition

Long = NewType("Long", int)

SCALARS: Mapping[object, ScalarDefinition] = {
    Long: strawberry.scalar(
        name="Long",
        description="A 64-bit integer (byte sizes beyond GraphQL Int's 32 bits), as a JSON number",
        serialize=int,
        parse_value=int,
    )
}
