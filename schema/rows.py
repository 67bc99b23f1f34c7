"""Strawberry types built from model rows whose attributes carry the fields' names."""

from __future__ import annotations

from typing import Any, Self

from strawberry.types.base import get_object_definition


class FromRow:
    """`from_row(row)`: every field without a resolver (private ones too) taken from the
    row's attribute of the same name, so a new column field is one edit."""

    @classmethod
    def from_row(cls, row: Any) -> Self:
        return cls(**{name: getattr(row, name) for name in row_fields(cls)})


_ROW_FIELDS: dict[type, tuple[str, ...]] = {}


def row_fields(cls: type) -> tuple[str, ...]:
    names = _ROW_FIELDS.get(cls)
    if names is None:
        definition = get_object_definition(cls, strict=True)
        names = tuple(f.python_name for f in definition.fields if f.base_resolver is None)
        _ROW_FIELDS[cls] = names
    return names
