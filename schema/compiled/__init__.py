"""The compiled read path: root fields of a query answered by one SQL statement each, the
JSON built by the database and passed through to the response without being rebuilt.

strawberry parses, validates, applies the limits and the extensions as for any request;
graphql-core's executor then asks, for each root field of a query, whether the whole
selection maps to the model (`compiler.ROOTS`, `compiler.FIELDS`). If so the field is one
statement whose JSON text goes into the response as it is (`RawJSON`, spliced by
`encode_response`); if not (a custom resolver, a mutation, a subscription, an argument
strawberry would refuse) graphql-core resolves it through strawberry as before. A query may
mix both. `Settings.compiled_reads` turns the path off.
"""

from __future__ import annotations

import json
import logging
from collections import OrderedDict
from typing import Any

from graphql import GraphQLObjectType, OperationType
from graphql.execution.collect_fields import FieldDetailsList
from graphql.pyutils import Path
from sqlalchemy.exc import OperationalError
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from schema.compiled import components  # noqa: F401 (registers the component types and roots)
from schema.compiled.compiler import Compiler, principal_key, today
from schema.compiled.roots import ROOTS
from schema.compiled.sqljson import NotCompilable, SqlJson
from server.core.metrics import ROOT_FIELDS

log = logging.getLogger(__name__)
TOO_DEEP = "parser stack overflow"
# plans per document field, variables and principal shape: parse and validation are cached
# by strawberry (ParserCache keeps a document's nodes while the query text repeats)
PLAN_CACHE_SIZE = 1024
PLANS: OrderedDict[Any, tuple[Any, Any]] = OrderedDict()


class RawJSON:
    """A root field's value as JSON text from the database."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return f"RawJSON({self.text[:40]!r}...)"


class CompilingExecutor(StrawberryGraphQLCoreExecutionContext):
    """graphql-core's executor, with the root fields of queries compiled where they can be."""

    def execute_field(
        self,
        parent_type: GraphQLObjectType,
        source: Any,
        field_details_list: FieldDetailsList,
        path: Path,
        position_context: Any,
    ) -> Any:
        ctx = self.context_value
        if (
            path.prev is None
            and self.operation.operation == OperationType.QUERY
            and getattr(ctx, "raw_json", False)
        ):
            ctx.root_fields += 1
            compiled = self._compile(parent_type, field_details_list)
            if compiled is not None:
                return self._run(compiled, parent_type, source, field_details_list, path)
            ROOT_FIELDS.labels("resolved").inc()
        return super().execute_field(
            parent_type, source, field_details_list, path, position_context
        )

    def _compile(self, parent_type: GraphQLObjectType, details: FieldDetailsList) -> Any:
        ctx = self.context_value
        root = ROOTS.get(details[0].node.name.value)
        if root is None:
            return None
        dialect = ctx.session.bind.dialect.name
        key = self._plan_key(dialect, ctx.principal, details)
        found = PLANS.get(key)
        if found is not None and found[0] is details[0].node:
            PLANS.move_to_end(key)
            return found[1]
        try:
            compiler = Compiler(self, ctx.principal, SqlJson(dialect))
            value = root(compiler, details, compiler.arguments(parent_type, details))
            stmt = compiler.json.statement(value)
        except NotCompilable as reason:
            log.debug("%s answered by strawberry: %s", details[0].node.name.value, reason)
            stmt = None
        except Exception:  # noqa: BLE001 - the compiler's own bug: strawberry answers it
            # (raised out of here, graphql-core would give the client its raw message)
            log.exception("compiling %s failed: strawberry answers", details[0].node.name.value)
            stmt = None
        # the field node is kept with its plan: its id cannot be reused while cached
        PLANS[key] = (details[0].node, stmt)
        if len(PLANS) > PLAN_CACHE_SIZE:
            PLANS.popitem(last=False)
        return stmt

    def _plan_key(self, dialect: str, principal: Any, details: FieldDetailsList) -> Any:
        """A plan depends on the document's field, the variables' values (arguments,
        @include/@skip) and what the access rules of the principal read."""
        try:
            variables = json.dumps(self.variable_values.coerced, sort_keys=True, default=str)
        except (TypeError, ValueError):
            variables = repr(self.variable_values.coerced)
        return (
            dialect,
            today(),  # the access rules read the date (embargoes)
            id(details[0].node),
            len(details),
            variables,
            principal_key(principal),
            # the texts' fallback chain reads the caller's Accept-Language
            getattr(self.context_value, "languages", ()),
        )

    async def _run(
        self,
        stmt: Any,
        parent_type: GraphQLObjectType,
        source: Any,
        details: FieldDetailsList,
        path: Path,
    ) -> Any:
        try:
            async with self.context_value.db() as session:
                text = await session.scalar(stmt)
        except OperationalError as error:
            if TOO_DEEP not in str(error):
                return self._failed(error, parent_type, details, path)
            # SQLite's parser refuses statements nested too deeply (before running them,
            # so the transaction is intact): strawberry answers this one
            log.info("%s answered by strawberry: %s", details[0].node.name.value, TOO_DEEP)
            ROOT_FIELDS.labels("resolved").inc()
            resolved = super().execute_field(parent_type, source, details, path, None)
            return await resolved if self.is_awaitable(resolved) else resolved
        except Exception as error:
            return self._failed(error, parent_type, details, path)
        self.context_value.compiled_roots.append((path.key, stmt))
        ROOT_FIELDS.labels("compiled").inc()
        return None if text is None else RawJSON(text)

    def build_response(self, data: dict[str, Any] | None) -> Any:
        """The response; a query answered wholly by compiled statements and without an
        error is kept for the fast path (`schema.compiled.fast`)."""
        response = super().build_response(data)
        ctx = self.context_value
        key = getattr(ctx, "fast_key", None)
        plans = getattr(ctx, "fast_plans", None)
        compiled = dict(getattr(ctx, "compiled_roots", ()))
        if (
            key is not None
            and plans is not None
            and data is not None
            and not self.collected_errors.errors
            and ctx.query_points is not None
            and len(compiled) == ctx.root_fields == len(data)
            and all(name in compiled for name in data)
        ):
            fields = [(name, compiled[name]) for name in data]
            plans.record(key, fields, ctx.query_points, ctx.session.bind.dialect)
        return response

    def _failed(
        self,
        error: Exception,
        parent_type: GraphQLObjectType,
        details: FieldDetailsList,
        path: Path,
    ) -> None:
        field_def = parent_type.fields[details[0].node.name.value]
        self.handle_field_error(error, field_def.type, details, path)


def encode_response(data: Any) -> str:
    """The response as JSON, the compiled fields' text spliced in as it came."""
    fields = data.get("data") if isinstance(data, dict) else None
    if not isinstance(fields, dict) or not any(isinstance(v, RawJSON) for v in fields.values()):
        return json.dumps(data, separators=(",", ":"))
    parts = []
    for key, value in data.items():
        if key == "data":
            members = ",".join(
                f"{json.dumps(name)}:{_encode_value(item)}" for name, item in fields.items()
            )
            parts.append(f'"data":{{{members}}}')
        else:
            parts.append(f"{json.dumps(key)}:{json.dumps(value, separators=(',', ':'))}")
    return "{" + ",".join(parts) + "}"


def _encode_value(value: Any) -> str:
    if isinstance(value, RawJSON):
        return value.text
    return json.dumps(value, separators=(",", ":"))


__all__ = ["CompilingExecutor", "NotCompilable", "RawJSON", "encode_response"]
