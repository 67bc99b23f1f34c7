"""JSON built by the database, in the two dialects: PostgreSQL (json_build_object, json_agg)
and SQLite (json_object, json_group_array). Each function returns a SQL expression whose
value is JSON text exactly as strawberry would serialise the same field."""

from __future__ import annotations

import base64
import enum
import functools
import json
from typing import Any

from sqlalchemy import (
    JSON,
    ColumnClause,
    ColumnElement,
    Integer,
    Select,
    Text,
    aggregate_order_by,
    case,
    cast,
    func,
    literal_column,
    select,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.visitors import InternalTraversal

# PostgreSQL functions take at most 100 arguments; SQLite's default cap is 127
MAX_PAIRS = 50
ONE: ColumnElement[int] = literal_column("1")  # LIMIT 1 in the statement, not a parameter


_B64_LINE = 57  # bytes PostgreSQL's base64 encodes on one line (76 characters)
_INTEGER_DIGITS = 20  # the longest bigint as text: a sign and 19 digits


def _integer(key: Any) -> bool:
    """An integer column (its text at most _INTEGER_DIGITS long)."""
    column = key.__clause_element__() if hasattr(key, "__clause_element__") else key
    return isinstance(column, ColumnClause) and isinstance(column.type, Integer)


class NotCompilable(Exception):  # noqa: N818 (a signal, not an error: strawberry answers)
    """The selection (or its arguments) is answered by strawberry instead."""


def sql_text(value: str) -> ColumnElement[Any]:
    """A string constant written into the statement (type names, keys: never user input)."""
    if not value.isascii() or not value.isprintable() or "'" in value or "\\" in value:
        raise NotCompilable(value)
    return literal_column(f"'{value}'")


# SQLite's integers have at most 19 digits (-2**63 is never a key of ours)
B64_DIGITS = 19


class SqliteText(ColumnElement[str]):
    """Text computed from one column by an expression written out as SQL (`template`, with
    `{c}` where the column goes), rendered flat: without the parentheses SQLAlchemy's
    operators put around each operation, since SQLite 3.40's parser stack is 100 entries
    deep and the innermost fields of a nested read sit deep already. Templates are ours,
    never user input."""

    inherit_cache = True
    _traverse_internals = [
        ("column", InternalTraversal.dp_clauseelement),
        ("template", InternalTraversal.dp_string),
    ]
    type = Text()

    def __init__(self, template: str, column: Any) -> None:
        clause = getattr(column, "__clause_element__", None)  # an ORM attribute: its column
        self.template, self.column = template, clause() if clause else column

    @property
    def _from_objects(self) -> list[Any]:
        return self.column._from_objects


@compiles(SqliteText)
def _render_sqlite_text(element: SqliteText, compiler: Any, **kw: Any) -> str:
    return element.template.replace("{c}", compiler.process(element.column, **kw))


@functools.cache
def sqlite_b64(prefix: str, url: bool) -> str:
    """base64 of prefix || {c} (a non-negative integer) in SQLite's own SQL.

    A Python function on the connection (satreps_b64) is called with the GIL taken in
    SQLite's thread: under concurrent requests each call waits for the event loop's thread to
    let go of it (up to sys.getswitchinterval(), 5 ms), and a nested read calls it for every
    id (bench/graph_read.py on SQLite at concurrency 8: 0.47x of the hand-written endpoint
    with it, 1.15x without). Spelled out instead: the prefix's whole 3-byte groups are a
    constant; the rest of it and the digits are encoded a 3-byte group at a time, looked up by
    the group's digits in a blob literal of its precomputed 4-character groups (substr on a
    blob is by byte offset; on an integer it takes its digits, and '012' * 4 is 48). The
    groups sit at fixed places from the start, so each is one CASE on the number of digits:
    whole, short (the last one, padded) or absent; a null key has no first group."""
    sql_text(prefix)  # a constant fit to be written into the statement
    encode = base64.urlsafe_b64encode if url else base64.b64encode
    cut = len(prefix) - len(prefix) % 3
    head = encode(prefix[:cut].encode()).decode()

    def lookup(lead: str, width: int, at: int) -> str:
        table = b"".join(encode(f"{lead}{n:0{width}d}".encode()) for n in range(10**width))
        return f"substr(x'{table.hex()}', substr({{c}}, {at}, {width}) * 4 + 1, 4)"

    def digits(at_least: int) -> str:
        """{c} has at least this many digits, compared as an integer: length({c}) wrote
        the number out as text at each call, and with it the nested read's statement
        (bench/graph_read.py) took 17% more of SQLite's instructions (callgrind)."""
        return f"{{c}} >= {0 if at_least == 1 else 10 ** (at_least - 1)}"

    groups = []
    at, lead = 1, prefix[cut:]
    while at <= B64_DIGITS:
        width = 3 - len(lead)  # the digits in this group
        # the WHENs in turn: whole, or (the ones before it having failed) short by 1, 2
        whens = [
            f"WHEN {digits(at + short - 1)} THEN {lookup(lead, short, at)}"
            for short in range(width, 0, -1)
        ]
        groups.append(f"CASE {' '.join(whens)} ELSE {'NULL' if at == 1 else "''"} END")
        at, lead = at + width, ""
    return f"'{head}' || {' || '.join(groups)}"


# a UTC datetime as SQLAlchemy stores it on SQLite ('YYYY-MM-DD HH:MM:SS.ffffff') written as
# datetime.isoformat() does (microseconds only when not zero); any other form through the
# Python function (server/core/db.py)
SQLITE_ISOFORMAT = (
    "CASE WHEN {c} IS NULL THEN NULL WHEN length({c}) = 26 AND substr({c}, 20, 1) = '.'"
    " THEN substr({c}, 1, 10) || 'T' || substr({c}, 12, 8)"
    " || CASE WHEN substr({c}, 21) = '000000' THEN '' ELSE substr({c}, 20) END || '+00:00'"
    " ELSE satreps_isoformat({c}) END"
)


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
        return self._b64(f"{type_name}:", key, url=False)

    def cursor(self, key: Any) -> ColumnElement[Any]:
        """server.core.pagination.encode_cursor: urlsafe base64 of "k1:id"."""
        return self._b64("k1:", key, url=True)

    def _b64(self, prefix: str, key: Any, *, url: bool) -> ColumnElement[Any]:
        """PostgreSQL's encode(.., 'base64') breaks its lines every 76 characters (57 bytes
        in); base64 ids and cursors have none."""
        value = sql_text(prefix).op("||")(cast(key, Text))
        if not self.pg:
            column = key.__clause_element__() if hasattr(key, "__clause_element__") else key
            if isinstance(column, ColumnClause) and isinstance(column.type, Integer):
                return SqliteText(sqlite_b64(prefix, url), column)
            return func.satreps_b64url(value) if url else func.satreps_b64(value)
        raw = func.encode(func.convert_to(value, literal_column("'UTF8'")), sql_text("base64"))
        if not url and _integer(key) and len(prefix.encode()) + _INTEGER_DIGITS <= _B64_LINE:
            return raw  # too short for encode's line breaks: nothing to translate away
        if url:  # translate drops a character that has no counterpart: the line breaks
            return func.translate(raw, literal_column("E'+/\\n'"), literal_column("'-_'"))
        return func.translate(raw, literal_column("E'\\n'"), literal_column("''"))

    def datetime(self, column: Any) -> ColumnElement[Any]:
        """datetime.isoformat() of a UTC datetime: microseconds only when not zero."""
        if not self.pg:
            return SqliteText(SQLITE_ISOFORMAT, column)
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
