"""FromRow builds a strawberry type from a row: every field without a resolver, private
ones too, from the attribute of the same name."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import strawberry

from schema.institutions.types import Institution
from schema.rows import FromRow, row_fields


def test_every_plain_field_and_no_resolver_is_taken() -> None:
    @strawberry.type
    class Thing(FromRow):
        title: str
        count: int | None
        secret: strawberry.Private[str]

        @strawberry.field
        def shout(self) -> str:
            return self.title.upper()

    row = SimpleNamespace(title="a", count=None, secret="s", shout="not a column")
    thing = Thing.from_row(row)

    assert row_fields(Thing) == ("title", "count", "secret")
    assert (thing.title, thing.count, thing.secret) == ("a", None, "s")


def test_a_row_missing_a_field_fails_loudly() -> None:
    with pytest.raises(AttributeError, match="country_code"):
        Institution.from_row(
            SimpleNamespace(
                id=1,
                name_en="x",
                name_local=None,
                acronym=None,
                kind="university",
                ror_id=None,
                website=None,
                created_at=None,
            )
        )
