"""Protecting the API: limits on the document (tokens, depth, aliases), introspection by
setting, a cost counted before execution (GitHub style), a per-principal rate limit, the
read scope, and stable codes on the errors these give.

Cost: 1 for the request, plus for every connection the nodes it may return, which is its
`first` (or `last`, else the default page of 20) times the nodes its parents may return;
a plain list counts 10 per parent (`nodes(ids:)` counts its ids). So `projects(first: 50)
{ nodes { institutions { id } } }` costs 1 + 50 + 50 x 10 = 551. A query over
`max_query_cost` is refused unexecuted. The rate limit charges points: the cost / 100,
rounded up (at least 1), as GitHub does.
"""

from __future__ import annotations

import math
import re
from collections.abc import AsyncIterator, Iterator
from functools import cache
from typing import Any

import strawberry
from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    ListValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValueNode,
    VariableNode,
    get_named_type,
)
from graphql.utilities import get_operation_ast, value_from_ast_untyped
from graphql.validation import ASTValidationRule, ValidationContext, ValidationRule
from strawberry.extensions import (
    DisableIntrospection,
    MaxAliasesLimiter,
    SchemaExtension,
)
from strawberry.extensions.query_depth_limiter import determine_depth, get_fragments
from strawberry.relay.types import GlobalIDValueError
from strawberry.types.graphql import OperationType

from schema.context import Info
from server.access.ratelimit import Charge
from server.core.errors import DomainError
from server.core.pagination import DEFAULT_PAGE

LIST_ESTIMATE = 5
_SUGGESTION = re.compile(r"\s*Did you mean .*\?$", re.DOTALL)


# ---- limits on the document ------------------------------------------------------------


def operation_label(operation: OperationDefinitionNode) -> str:
    """How an error names an operation: by its name, else as the unnamed one."""
    if operation.name is None:
        return "the unnamed operation"
    return f"operation '{operation.name.value}'"


class _FirstTooDeep:
    """What strawberry's depth walk reports to: keeps the first node found too deep."""

    def __init__(self) -> None:
        self.node: Any = None

    def report_error(self, error: GraphQLError) -> None:
        if self.node is None and error.nodes:
            self.node = error.nodes[0]


def depth_limit(max_depth: int) -> type[ValidationRule]:
    """Strawberry's depth measure (QueryDepthLimiter's, introspection fields not counted),
    one error per operation too deep, naming it: strawberry's own says 'anonymous' for an
    unnamed operation (read as the caller) and merges operations of the same name."""

    class DepthLimit(ValidationRule):
        def __init__(self, context: ValidationContext) -> None:
            super().__init__(context)
            definitions = context.document.definitions
            fragments = get_fragments(definitions)
            for operation in definitions:
                if not isinstance(operation, OperationDefinitionNode):
                    continue
                found = _FirstTooDeep()
                label = operation_label(operation)
                determine_depth(
                    node=operation,
                    fragments=fragments,
                    depth_so_far=0,
                    max_depth=max_depth,
                    context=found,  # type: ignore[arg-type]  # report_error is all it uses
                    operation_name=label,
                    should_ignore=None,
                )
                if found.node is not None:
                    message = f"{label} exceeds maximum operation depth of {max_depth}"
                    context.report_error(GraphQLError(message, found.node))

    return DepthLimit


@cache
def validation_rules(
    max_depth: int, max_aliases: int, introspection: bool
) -> tuple[type[ASTValidationRule], ...]:
    """Built once per configuration, so the validation cache (keyed by the rules) hits."""
    rules = [
        depth_limit(max_depth),
        *MaxAliasesLimiter(max_alias_count=max_aliases).validation_rules,
    ]
    if not introspection:
        rules += DisableIntrospection().validation_rules
    return tuple(rules)


# ---- cost --------------------------------------------------------------------------------


def _arg(field: FieldNode, name: str, variables: dict[str, Any]) -> Any:
    for argument in field.arguments or ():
        if argument.name.value == name:
            return _value(argument.value, variables)
    return None


def _value(node: ValueNode, variables: dict[str, Any]) -> Any:
    if isinstance(node, VariableNode):
        return variables.get(node.name.value)
    if isinstance(node, ListValueNode):
        return [_value(v, variables) for v in node.values]
    return value_from_ast_untyped(node, variables)


def _is_connection(type_: Any) -> bool:
    return isinstance(type_, GraphQLObjectType) and type_.name.endswith("Connection")


def _is_list(type_: Any) -> bool:
    while isinstance(type_, GraphQLNonNull):
        type_ = type_.of_type
    return isinstance(type_, GraphQLList)


class _Cost:
    def __init__(self, schema: GraphQLSchema, document: DocumentNode, variables: dict[str, Any]):
        self.schema = schema
        self.variables = variables
        self.fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }

    def selections(self, parent: Any, selection_set: SelectionSetNode, multiplier: int) -> int:
        total = 0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                total += self.field(parent, selection, multiplier)
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                target = self.schema.get_type(condition.name.value) if condition else parent
                total += self.selections(target, selection.selection_set, multiplier)
            elif isinstance(selection, FragmentSpreadNode):
                fragment = self.fragments.get(selection.name.value)
                if fragment is not None:
                    target = self.schema.get_type(fragment.type_condition.name.value)
                    total += self.selections(target, fragment.selection_set, multiplier)
        return total

    def field(self, parent: Any, node: FieldNode, multiplier: int) -> int:
        if not isinstance(parent, GraphQLObjectType | GraphQLInterfaceType):
            return 0
        definition = parent.fields.get(node.name.value)
        if definition is None or node.selection_set is None:
            return 0  # scalars, enums, introspection: free
        named = get_named_type(definition.type)
        size = self.size(parent, definition.type, named, node)
        if size is None:  # a single object: its fields cost what they ask for
            return self.selections(named, node.selection_set, multiplier)
        multiplier *= size
        return multiplier + self.selections(named, node.selection_set, multiplier)

    def size(self, parent: Any, type_: Any, named: Any, node: FieldNode) -> int | None:
        """How many nodes a field may return per parent; None for a single object."""
        if _is_connection(named):
            size = _arg(node, "first", self.variables)
            if size is None:
                size = _arg(node, "last", self.variables)
            return max(size, 0) if isinstance(size, int) else DEFAULT_PAGE
        if _is_list(type_) and not _is_connection(parent):  # edges/nodes: counted above
            ids = _arg(node, "ids", self.variables)
            return len(ids) if isinstance(ids, list) else LIST_ESTIMATE
        return None


def query_cost(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation_name: str | None,
    variables: dict[str, Any] | None,
) -> int:
    operation = get_operation_ast(document, operation_name)
    if not isinstance(operation, OperationDefinitionNode):
        return 1
    root = schema.get_root_type(operation.operation)
    return 1 + _Cost(schema, document, variables or {}).selections(root, operation.selection_set, 1)


def points(cost: int) -> int:
    """What a query of this cost takes from the hourly budget."""
    return max(1, math.ceil(cost / 100))


# ---- the extension --------------------------------------------------------------------------


def _refuse(code: str, message: str, **extra: Any) -> GraphQLError:
    return GraphQLError(message, extensions={"code": code, **extra})


class Protection(SchemaExtension):
    """Applies the request's settings: limits on the document before parsing and validation,
    then, before execution, the read scope, the cost limit and the rate limit."""

    def on_operation(self) -> Iterator[None]:
        ec = self.execution_context
        settings = ec.context.settings
        ec.parse_options["max_tokens"] = settings.max_query_tokens
        ec.validation_rules = ec.validation_rules + validation_rules(
            settings.max_query_depth, settings.max_query_aliases, settings.graphql_introspection
        )
        yield

    async def on_execute(self) -> AsyncIterator[None]:
        ec = self.execution_context
        ctx = ec.context
        settings = ctx.settings
        principal = ctx.principal
        trusted = getattr(ctx, "trusted", None)
        if trusted is not None and not trusted(ec.query or ""):  # every transport, WebSockets too
            raise _refuse(
                "PERSISTED_QUERY_NOT_IN_LIST", "this server runs only its trusted documents"
            )
        if (
            ec.operation_type in (OperationType.QUERY, OperationType.SUBSCRIPTION)
            and principal.is_authenticated
            and not principal.has_scope("read")
        ):
            raise _refuse("INSUFFICIENT_SCOPE", "this token lacks the read scope")
        assert ec.graphql_document is not None
        cost = query_cost(ec.schema._schema, ec.graphql_document, ec.operation_name, ec.variables)
        if cost > settings.max_query_cost:
            raise _refuse(
                "QUERY_TOO_COSTLY",
                f"this query may return {cost} nodes, over the limit of {settings.max_query_cost}"
                "; ask for smaller pages (first/last) or fewer nested lists",
                cost=cost,
                maxCost=settings.max_query_cost,
            )
        ctx.query_points = points(cost)  # a compiled document's fast path charges the same
        await self._charge(ctx, ctx.query_points)
        ctx.executing = True  # what fails from here on is an answer, not a request error
        yield

    async def _charge(self, ctx: Any, cost: int) -> None:
        prepaid = getattr(ctx, "prepaid", None)
        if prepaid is not None and prepaid[:2] == (ctx.principal.account_id, cost):
            charge = prepaid[2]  # the fast path took it, then handed the request on
        else:
            charge = await charge_budget(ctx, cost)
        if charge is None:
            return
        ctx.rate_limit = charge
        headers = rate_limit_headers(charge)
        if ctx.response is not None:
            ctx.response.headers.update(headers)
        if not charge.allowed:
            if ctx.response is not None:
                ctx.response.status_code = 429
            raise _refuse(
                "RATE_LIMITED",
                f"rate limit exceeded: this query needs {cost} points and {charge.remaining}"
                f" of {charge.limit} are left until {charge.reset_at.isoformat()}",
                cost=cost,
                remaining=charge.remaining,
                resetAt=charge.reset_at.isoformat(),
                retryAfter=int(headers["Retry-After"]),
            )


async def charge_budget(ctx: Any, cost: int) -> Charge | None:
    """Take `cost` points from the principal's hourly budget (a refused charge takes
    nothing); None when the principal is not limited. `ctx` has principal, settings,
    client and limiter."""
    budget = budget_of(ctx.limiter, ctx.principal, ctx.settings, ctx.client)
    if budget is None:
        return None
    result: Charge = await ctx.limiter.charge(budget[0], cost, budget[1])
    return result


def budget_of(
    limiter: Any, principal: Any, settings: Any, client: str | None
) -> tuple[str, int] | None:
    """(the budget's key, its hourly limit): an account's, or an anonymous caller's by
    address; None when the caller is not limited. Shared by charge_budget and the fast
    path's charge (server/http/fast_answer.py)."""
    if principal.is_authenticated:
        key, limit = f"account:{principal.account_id}", settings.rate_limit_points
    else:
        key, limit = f"client:{client or 'unknown'}", settings.rate_limit_anonymous_points
    if limit <= 0 or limiter is None:
        return None
    return key, limit


def rate_limit_headers(charge: Charge) -> dict[str, str]:
    """The X-RateLimit-* headers of every limited response; a refusal (429) adds
    Retry-After, in seconds (RFC 9110), the same instant as X-RateLimit-Reset."""
    headers = {
        "X-RateLimit-Limit": str(charge.limit),
        "X-RateLimit-Remaining": str(charge.remaining),
        "X-RateLimit-Used": str(charge.used),
        "X-RateLimit-Reset": str(int(charge.reset_at.timestamp())),
    }
    if not charge.allowed:
        headers["Retry-After"] = str(charge.retry_after())
    return headers


# ---- stable codes on the errors the GraphQL layer gives -------------------------------------

_CODES = (
    ("exceeds maximum operation depth", "QUERY_TOO_DEEP"),
    ("tokens. Parsing aborted", "QUERY_TOO_LARGE"),
    ("aliases found", "TOO_MANY_ALIASES"),
    ("introspection has been disabled", "INTROSPECTION_DISABLED"),
    ("Syntax Error", "GRAPHQL_PARSE_FAILED"),
)


def without_suggestions(message: str) -> str:
    return _SUGGESTION.sub("", message)


def tag_error(error: GraphQLError) -> None:
    """Give an error of the GraphQL layer (syntax, validation, limits) a stable code.
    (Validation errors are cached and shared: only ever add what any request would.)"""
    extensions = dict(error.extensions or {})
    if "code" in extensions:
        return
    original = error.original_error
    if isinstance(original, GlobalIDValueError):
        # an argument that is no global id at all: shown as is (not masked), so coded
        error.extensions = {**extensions, "code": "INVALID_ID"}
        return
    if isinstance(original, DomainError):
        # raised by a resolver without schema.errors.read(): coded as read() would have
        first = original.details[0]
        error.extensions = {**extensions, "code": first.code, "field": first.field}
        return
    if error.original_error is not None:
        return
    code = next((c for text, c in _CODES if text in error.message), None)
    if code is None and error.path is None:
        code = "GRAPHQL_VALIDATION_FAILED"
    if code is not None:
        error.extensions = {**extensions, "code": code}


# ---- rateLimit { cost remaining resetAt } ------------------------------------------------


@strawberry.type(description="Your rate limit: points per hour, charged before execution")
class RateLimit:
    limit: int
    cost: int = strawberry.field(description="What this request cost")
    used: int
    remaining: int
    reset_at: str = strawberry.field(description="When the budget is full again (ISO 8601)")


@strawberry.type
class ProtectionQueries:
    @strawberry.field(description="Your rate limit after this request; null when unlimited")
    def rate_limit(self, info: Info) -> RateLimit | None:
        charge: Charge | None = info.context.rate_limit
        if charge is None:
            return None
        return RateLimit(
            limit=charge.limit,
            cost=charge.cost,
            used=charge.used,
            remaining=charge.remaining,
            reset_at=charge.reset_at.isoformat(),
        )
