"""JSON built by the database, in the two dialects: PostgreSQL (json_build_object, json_agg)
and SQLite (json_object, json_group_array). Each function returns a SQL expression whose
value is JSON text exactly as strawberry would serialise the same field."""

from __future__ import annotations

import enum
import json
from typing import Any

from sqlalchemy import (
    JSON,
    ColumnElement,
    Select,
    Text,
    aggregate_order_by,
    case,
    cast,
    func,
    literal_column,
    select,
)

# PostgreSQL functions take at most 100 arguments; SQLite's default cap is 127
MAX_PAIRS = 50
ONE: ColumnElement[int] = literal_column("1")  # LIMIT 1 in the statement, not a parameter


class NotCompilable(Exception):  # noqa: N818 (a signal, not an error: strawberry answers)
    """The selection (or its arguments) is answered by strawberry instead."""


def sql_text(value: str) -> ColumnElement[Any]:
    """A string constant written into the statement (type names, keys: never user input)."""
    if not value.isascii() or not value.isprintable() or "'" in value or "\\" in value:
        raise NotCompilable(value)
    return literal_column(f"'{value}'")


class SqlJson:
    def __init__(self, dialect: str) -> None:
        self.pg = dialect == "postgresql"

    def obj(self, pairs: list[tuple[str, ColumnElement[Any]]]) -> ColumnElement[Any]:
        if len(pairs) > MAX_PAIRS:
            raise NotCompilable("too many fields in one object")
        args: list[Any] = []
        for key, value in pairs:
            args += [sql_text(key), value]
        return func.json_build_object(*args) if self.pg else func.json_object(*args)

    def array(self, rows: Select[Any], item: Any, order: list[Any]) -> ColumnElement[Any]:
        """The JSON array of `item` over `rows` (a select giving FROM and WHERE), in order."""
        if self.pg:
            agg = aggregate_order_by(func.json_agg(item), *order)
            empty: ColumnElement[Any] = literal_column("'[]'::json")
            return rows.with_only_columns(func.coalesce(agg, empty)).scalar_subquery()
        # SQLite 3.40 has no ORDER BY inside an aggregate, and a subquery in FROM cannot
        # see the outer row: the aggregate runs as a window over the ordered rows instead
        ordered = func.json_group_array(item).over(order_by=order, rows=(None, None))
        first = rows.with_only_columns(ordered).limit(ONE).scalar_subquery()
        return func.json(func.coalesce(first, "[]"))

    def one(self, rows: Select[Any], item: ColumnElement[Any]) -> ColumnElement[Any]:
        """The JSON value of `item` in the one row of `rows`, or null."""
        value = rows.with_only_columns(item).limit(ONE).scalar_subquery()
        return value if self.pg else func.json(value)

    def global_id(self, type_name: str, key: Any) -> ColumnElement[Any]:
        """strawberry's relay id: base64 of "Type:id"."""
        return self._b64(sql_text(f"{type_name}:").op("||")(cast(key, Text)), url=False)

    def cursor(self, key: Any) -> ColumnElement[Any]:
        """server.core.pagination.encode_cursor: urlsafe base64 of "k1:id"."""
        return self._b64(sql_text("k1:").op("||")(cast(key, Text)), url=True)

    def _b64(self, value: ColumnElement[Any], *, url: bool) -> ColumnElement[Any]:
        if not self.pg:
            return func.satreps_b64url(value) if url else func.satreps_b64(value)
        raw = func.encode(func.convert_to(value, literal_column("'UTF8'")), sql_text("base64"))
        if url:  # translate drops a character that has no counterpart: the line breaks
            return func.translate(raw, literal_column("E'+/\\n'"), literal_column("'-_'"))
        return func.translate(raw, literal_column("E'\\n'"), literal_column("''"))

    def datetime(self, column: Any) -> ColumnElement[Any]:
        """datetime.isoformat() of a UTC datetime: microseconds only when not zero."""
        if not self.pg:  # a function of ours (server/core/db.py): shallow for SQLite's parser
            return func.satreps_isoformat(column)
        utc = func.timezone(sql_text("UTC"), column)
        micro = func.to_char(utc, sql_text("US"))
        seconds = func.to_char(utc, literal_column("'YYYY-MM-DD\"T\"HH24:MI:SS'"))
        fraction = case((micro == "000000", ""), else_=literal_column("'.'").op("||")(micro))
        return seconds.op("||")(fraction).op("||")(literal_column("'+00:00'"))

    def real(self, column: Any) -> ColumnElement[Any]:
        """A float as strawberry writes it (the shortest text that reads back the same):
        PostgreSQL's float8 output is that already; SQLite's JSON keeps 15 digits only."""
        if self.pg:
            return column
        return func.json(func.satreps_float(column))

    def date(self, column: Any) -> ColumnElement[Any]:
        if self.pg:
            return func.to_char(column, literal_column("'YYYY-MM-DD'"))
        return column  # stored as "YYYY-MM-DD"

    def enum(self, column: Any, enum_cls: type[enum.Enum]) -> ColumnElement[Any]:
        """The GraphQL name of a stored enum value (strawberry uses the member's name)."""
        # constants in the statement: twenty-odd parameters per enum cost the driver and
        # the server more than the comparisons do
        whens = [(sql_text(str(member.value)), sql_text(member.name)) for member in enum_cls]
        return case(*whens, value=column)

    def decimal(self, column: Any, places: int) -> ColumnElement[Any]:
        """str() of a Numeric(n, places) value as the driver returns it: `places` digits
        after the point (asyncpg's Decimal; SQLAlchemy's '%.<places>f' of SQLite's float)."""
        if self.pg:
            return cast(column, Text)
        text = func.printf(literal_column(f"'%.{int(places)}f'"), column)
        return case((column.is_(None), None), else_=text)

    def plain_decimal(self, column: Any, places: int) -> ColumnElement[Any]:
        """schema.pdm.plain() of a Numeric(n, places) value: no trailing zeros, no point
        when integral, never an exponent."""
        if self.pg:
            return cast(func.trim_scale(column), Text)
        fixed = func.printf(literal_column(f"'%.{int(places)}f'"), column)
        text = func.rtrim(func.rtrim(fixed, literal_column("'0'")), literal_column("'.'"))
        return case((column.is_(None), None), else_=text)

    def lookup(self, column: Any, table: dict[Any, Any]) -> ColumnElement[Any]:
        """The JSON value `table[column]` (constants of ours, never user input)."""
        texts = {
            key: sql_text(json.dumps(value, separators=(",", ":"))) for key, value in table.items()
        }
        chosen = case(texts, value=column)
        return cast(chosen, JSON) if self.pg else func.json(chosen)

    def statement(self, value: ColumnElement[Any]) -> Select[Any]:
        """The one-row statement answering a root field: its JSON as text."""
        return select(cast(value, Text) if self.pg else value)

    def boolean(self, condition: ColumnElement[bool]) -> ColumnElement[Any]:
        if self.pg:
            return condition
        return func.json(case((condition, "true"), else_="false"))

    def literal_array(self, items: list[ColumnElement[Any]]) -> ColumnElement[Any]:
        """The JSON array of these values (JSON objects built in the statement)."""
        if self.pg:
            return func.json_build_array(*items) if items else literal_column("'[]'::json")
        return func.json_array(*items)

    def nested(self, value: ColumnElement[Any]) -> ColumnElement[Any]:
        """A JSON value from a subquery kept as JSON (SQLite loses the JSON subtype there)."""
        return value if self.pg else func.json(value)
