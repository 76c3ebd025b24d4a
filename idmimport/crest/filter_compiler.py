"""Compile a parsed ``_queryFilter`` into a Django ``Q``.

The caller maps each JSON pointer to where it is stored (``resolve_field``);
this module turns comparisons on those targets into SQL that behaves the same
on SQLite and PostgreSQL:

- ``eq``/``co``/``sw`` are case-sensitive everywhere and never use LIKE, so
  ``%`` and ``_`` in values are literal.
- Comparisons are type-strict on JSON values: a string matches only JSON
  strings, a number only JSON numbers, a boolean only JSON booleans.
- ``!`` is the Boolean complement of what its operand matches, as in IDM's
  in-memory evaluation: ``!(mail eq "x")`` matches objects without ``mail``
  (and with ``mail: null``). SQL's three-valued logic would drop those rows, so
  every comparison under a negation is made two-valued first.
- Values that cannot be compared with a column (``total eq "abc"``), unknown
  operators and malformed ``in`` lists raise ``QueryFilterValueError`` (a 400),
  either from ``compile_filter`` or, for column types only known once the
  queryset's model is, from ``QuerySet.filter()``; never a database error.
"""

from __future__ import annotations

import contextlib
import json
import math
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, TypeAlias

from django.conf import settings
from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.db import DEFAULT_DB_ALIAS, connections, models
from django.db.models import Expression, F, Q, Value
from django.db.models.lookups import (
    Exact,
    GreaterThan,
    GreaterThanOrEqual,
    In,
    IsNull,
    LessThan,
    LessThanOrEqual,
    Lookup,
)
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from idmimport.crest.json_sql import JsonPredicate, text_comparison_sql
from idmimport.crest.query_filter import (
    MAX_DEPTH,
    And,
    Comparison,
    FalseFilter,
    FilterNode,
    FilterValue,
    Not,
    Or,
    Pointer,
    Presence,
    TrueFilter,
    format_pointer,
    parse_number,
)

__all__ = [
    "MAX_IN_VALUES",
    "MAX_SQL_DEPTH",
    "ColumnTarget",
    "FieldTarget",
    "JsonArrayTarget",
    "JsonPathTarget",
    "QueryFilterValueError",
    "UnknownFieldError",
    "compile_filter",
]

# Bounds the SQL an "in" list produces (SQLite allows 32766 parameters).
MAX_IN_VALUES = 1000
# How deeply and/or groups may nest in the SQL, per vendor (after "!" is pushed
# down and same-kind groups merged). SQLite's parser stack overflows a little
# beyond 80 (3.40); other vendors get the parser's own limit.
MAX_SQL_DEPTH = {"sqlite": 64}

_COMPARISONS = frozenset({"eq", "lt", "le", "gt", "ge"})
_STRING_ONLY = frozenset({"co", "sw"})
_OPERATORS = _COMPARISONS | _STRING_ONLY | {"pr", "in"}
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


@dataclass(frozen=True, slots=True)
class ColumnTarget:
    """A model field (or annotation) by name: text, number, boolean, date/time."""

    name: str


@dataclass(frozen=True, slots=True)
class JsonPathTarget:
    """The value at ``path`` inside the JSONField ``column``."""

    column: str
    path: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class JsonArrayTarget:
    """A JSONField holding an array; a comparison matches if any element does."""

    column: str


FieldTarget: TypeAlias = ColumnTarget | JsonPathTarget | JsonArrayTarget
FieldResolver: TypeAlias = Callable[[Pointer], FieldTarget]


class UnknownFieldError(ValueError):
    """A filter names a field the resource does not have."""

    def __init__(self, pointer: Pointer) -> None:
        self.pointer = pointer
        super().__init__(f"Unknown field '{format_pointer(pointer)}'")


class QueryFilterValueError(ValueError):
    """A well-formed filter that cannot be applied (bad value or operator)."""


# ---------------------------------------------------------------------------
# Tree walk


class _Constant:
    """Folded ``true``/``false``; kept out of ``Q`` because ``Q()`` matches
    everything even when negated or OR-ed."""

    def __init__(self, matches_all: bool) -> None:
        self.matches_all = matches_all


_ALL, _NONE = _Constant(True), _Constant(False)
_Compiled: TypeAlias = Q | _Constant


def compile_filter(
    node: FilterNode,
    resolve_field: FieldResolver,
    *,
    model: type[models.Model] | None = None,
    using: str = DEFAULT_DB_ALIAS,
) -> Q:
    """Compile ``node`` into a ``Q`` for ``QuerySet.filter()``.

    ``resolve_field`` maps a pointer to its ``FieldTarget`` or raises
    ``UnknownFieldError``. With ``model``, column values are checked here rather
    than when the ``Q`` is applied. ``using`` names the database the query will
    run on; its vendor bounds how deeply and/or may nest (see ``MAX_SQL_DEPTH``).

    Raises:
        UnknownFieldError: from ``resolve_field``.
        QueryFilterValueError: a value or operator the target cannot take, or
            a filter nested too deeply for the database.
    """
    depth_limit = MAX_SQL_DEPTH.get(connections[using].vendor, MAX_DEPTH)
    compiler = _Compiler(resolve_field, model=model, depth_limit=depth_limit)
    compiled = compiler.compile(node, negate=False, depth=0)
    if compiled is _ALL:
        return Q()
    if compiled is _NONE:
        return Q(pk__in=[])
    return compiled  # type: ignore[return-value]


class _Compiler:
    """Walks the filter tree in negation normal form.

    ``!`` is pushed down to the comparisons (De Morgan), so NOT never wraps an
    and/or in the SQL, nested and/or of the same kind are merged, ``!!x`` is
    ``x`` and ``true``/``false`` are folded away. Under a pushed-down ``!`` a
    comparison is made two-valued, which gives complement semantics.
    """

    def __init__(
        self,
        resolve_field: FieldResolver,
        *,
        model: type[models.Model] | None,
        depth_limit: int,
    ) -> None:
        self._resolve_field = resolve_field
        self._model = model
        self._depth_limit = depth_limit

    def compile(self, node: FilterNode, *, negate: bool, depth: int) -> _Compiled:
        """Compile ``node`` (its complement if ``negate``) below ``depth``
        enclosing and/or groups."""
        node, negate = _strip_nots(node, negate)
        if isinstance(node, TrueFilter | FalseFilter):
            return _ALL if isinstance(node, TrueFilter) != negate else _NONE
        if isinstance(node, And | Or):
            return self._junction(node, negate=negate, depth=depth)
        if isinstance(node, Presence | Comparison):
            return self._leaf(node, negate=negate)
        raise TypeError(f"not a filter node: {node!r}")

    def _junction(self, node: And | Or, *, negate: bool, depth: int) -> _Compiled:
        if depth >= self._depth_limit:
            raise QueryFilterValueError(
                f"The filter nests 'and'/'or' more than {self._depth_limit} deep"
            )
        is_and = isinstance(node, And) != negate  # De Morgan
        absorbing, neutral = (_NONE, _ALL) if is_and else (_ALL, _NONE)
        children: list[Q] = []
        for child, child_negate in _junction_children(node, negate, is_and=is_and):
            compiled = self.compile(child, negate=child_negate, depth=depth + 1)
            if compiled is absorbing:
                return absorbing
            if compiled is not neutral:
                children.append(compiled)  # type: ignore[arg-type]
        if len(children) <= 1:
            return children[0] if children else neutral
        return Q(*children, _connector=Q.AND if is_and else Q.OR)

    def _leaf(self, node: Presence | Comparison, *, negate: bool) -> Q:
        target = self._resolve_field(node.field)
        operator = "pr" if isinstance(node, Presence) else node.operator
        value = None if isinstance(node, Presence) else node.value
        if operator not in _OPERATORS:
            raise QueryFilterValueError(f"Unsupported operator '{operator}'")
        operand = _operand(operator, value)
        if isinstance(target, ColumnTarget):
            condition = self._column_leaf(target, operator, operand, negate=negate)
        elif isinstance(target, JsonPathTarget | JsonArrayTarget):
            condition = Q(_json_predicate(target, operator, operand, negate=negate))
        else:
            raise TypeError(f"resolve_field returned {target!r}, not a FieldTarget")
        return ~condition if negate else condition

    def _column_leaf(
        self, target: ColumnTarget, operator: str, operand: Any, *, negate: bool
    ) -> Q:
        if self._model is not None:
            _check_column_operand(self._model, target.name, operator, operand)
        condition = Q(_ColumnCondition(target.name, operator, operand, negate))
        if negate and operator != "pr":
            # NOT (col < x AND col IS NOT NULL) also matches NULL columns.
            condition &= Q(**{f"{target.name}__isnull": False})
        return condition


def _strip_nots(node: FilterNode, negate: bool) -> tuple[FilterNode, bool]:
    while isinstance(node, Not):
        node, negate = node.child, not negate
    return node, negate


def _junction_children(
    node: And | Or, negate: bool, *, is_and: bool
) -> list[tuple[FilterNode, bool]]:
    """The operands of one compiled and/or, each with its own ``negate``.

    Descendants that become the same kind of junction are spliced in. Nested
    groups come first: SQLite's parser copes with ``((a OR b) AND c)`` far
    deeper than with ``(c AND (a OR b))``.
    """
    operands: list[tuple[FilterNode, bool]] = []
    pending = [(child, negate) for child in reversed(node.children)]
    while pending:
        child, child_negate = _strip_nots(*pending.pop())
        if (
            isinstance(child, And | Or)
            and (isinstance(child, And) != child_negate) == is_and
        ):
            pending.extend((grand, child_negate) for grand in reversed(child.children))
        else:
            operands.append((child, child_negate))
    operands.sort(key=lambda operand: not isinstance(operand[0], And | Or))
    return operands


# ---------------------------------------------------------------------------
# Values


def _check_string(value: str) -> str:
    # Neither database stores NUL in text, and lone surrogates cannot be encoded.
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise QueryFilterValueError("Invalid characters in a filter value") from None
    if "\x00" in value:
        raise QueryFilterValueError("Filter values cannot contain NUL characters")
    return value


def _is_storable_number(value: FilterValue) -> bool:
    # The parser already enforces this for literals; JSON lists need it too
    # (SQLite cannot bind larger integers).
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return _INT64_MIN <= value <= _INT64_MAX
    return True


def _in_values(value: FilterValue | None) -> tuple[FilterValue, ...]:
    """``in`` takes a JSON array of scalars in a string: ``'["a","b"]'``."""
    try:
        values = json.loads(value) if isinstance(value, str) else None
    except ValueError:
        values = None
    scalars = (str, int, float, bool)
    if not isinstance(values, list) or not all(isinstance(v, scalars) for v in values):
        raise QueryFilterValueError(
            "The 'in' operator takes a JSON array of strings, numbers or booleans"
        )
    if len(values) > MAX_IN_VALUES:
        raise QueryFilterValueError(f"An 'in' list may hold at most {MAX_IN_VALUES}")
    if any(not _is_storable_number(v) for v in values):
        raise QueryFilterValueError(
            "Numbers in an 'in' list must be finite and integers fit in 64 bits"
        )
    for v in values:
        if isinstance(v, str):
            _check_string(v)
    return tuple(values)


def _operand(operator: str, value: FilterValue | None) -> Any:
    """The value a leaf compares with, checked independently of the target."""
    if operator == "pr":
        return None
    if operator == "in":
        return _in_values(value)
    if operator in _STRING_ONLY and not isinstance(value, str):
        raise QueryFilterValueError(f"The '{operator}' operator takes a string")
    return _check_string(value) if isinstance(value, str) else value


def _json_predicate(
    target: JsonPathTarget | JsonArrayTarget,
    operator: str,
    operand: Any,
    *,
    negate: bool,
) -> JsonPredicate:
    path = target.path if isinstance(target, JsonPathTarget) else ()
    for segment in path:
        _check_string(segment)
    return JsonPredicate(
        target.column,
        path,
        operator=operator,
        value=operand,
        any_element=isinstance(target, JsonArrayTarget),
        two_valued=negate,
    )


# ---------------------------------------------------------------------------
# Columns


class _NoMatch(Exception):
    """A value no row can equal (``rev eq 1.5``); not an error."""


def _number_from(value: Any) -> int | float:
    if isinstance(value, str):
        parsed = parse_number(value.strip())
        if parsed is not None:
            return parsed
    elif isinstance(value, int | float) and not isinstance(value, bool):
        return value
    raise QueryFilterValueError(f"'{value}' is not a number")


def _coerce_integer(operator: str, value: Any) -> tuple[str, int]:
    number = _number_from(value)
    if isinstance(number, float) and not number.is_integer():
        if operator == "eq":
            raise _NoMatch
        # Exact on integers: x < 2.5 is x < 3, x <= 2.5 is x <= 2, and so on.
        number = math.ceil(number) if operator in ("lt", "ge") else math.floor(number)
    number = int(number)
    if not _INT64_MIN <= number <= _INT64_MAX:
        raise QueryFilterValueError(f"'{value}' is out of range")
    return operator, number


def _coerce_boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise QueryFilterValueError(f"'{value}' is not a boolean")


def _coerce_datetime(value: Any) -> datetime:
    """ISO 8601 date-time or date; naive values are taken as UTC."""
    parsed: datetime | None = None
    if isinstance(value, str):
        try:
            parsed = parse_datetime(value)
            if parsed is None and (day := parse_date(value)) is not None:
                parsed = datetime(day.year, day.month, day.day)  # noqa: DTZ001
        except ValueError:
            parsed = None
    if parsed is None:
        raise QueryFilterValueError(f"'{value}' is not an ISO 8601 date-time")
    if timezone.is_naive(parsed):
        parsed = parsed.replace(tzinfo=UTC)
    return parsed if settings.USE_TZ else timezone.make_naive(parsed, UTC)


def _coerce_date(value: Any) -> date:
    try:
        parsed = parse_date(value) if isinstance(value, str) else None
    except ValueError:
        parsed = None
    if parsed is None:
        raise QueryFilterValueError(f"'{value}' is not an ISO 8601 date")
    return parsed


def _coerce_decimal(value: Any) -> Decimal:
    try:
        return Decimal(str(_number_from(value)))
    except InvalidOperation:
        raise QueryFilterValueError(f"'{value}' is not a number") from None


def _coerce_uuid(value: Any) -> uuid.UUID:
    # An id that is not a UUID is simply not there, as for any other id.
    if not isinstance(value, str):
        raise _NoMatch
    try:
        return uuid.UUID(value)
    except ValueError:
        raise _NoMatch from None


def _coerce_other(field: models.Field, value: Any) -> Any:
    try:
        return field.to_python(value)
    except (ValidationError, TypeError, ValueError):
        raise QueryFilterValueError(
            f"'{value}' cannot be compared with '{field.name}'"
        ) from None


def _coerce_text(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise QueryFilterValueError(f"'{value}' cannot be compared with text")
    return value if isinstance(value, str) else str(value)


# Most specific first: DateTimeField subclasses DateField, every integer field
# IntegerField, EmailField/SlugField CharField.
_COERCERS: tuple[tuple[type[models.Field], Callable[[models.Field, Any], Any]], ...] = (
    (models.BooleanField, lambda field, value: _coerce_boolean(value)),
    (models.DateTimeField, lambda field, value: _coerce_datetime(value)),
    (models.DateField, lambda field, value: _coerce_date(value)),
    (models.FloatField, lambda field, value: float(_number_from(value))),
    (models.DecimalField, lambda field, value: _coerce_decimal(value)),
    (models.UUIDField, lambda field, value: _coerce_uuid(value)),
)


def _is_text(field: models.Field) -> bool:
    return isinstance(field, models.CharField | models.TextField)


def _coerce_column_value(
    field: models.Field, operator: str, value: Any
) -> tuple[str, Any]:
    """The operator and value to compare ``field`` with; raises ``_NoMatch``."""
    if _is_text(field):
        return operator, _coerce_text(value)
    if operator in _STRING_ONLY:
        raise QueryFilterValueError(f"The '{operator}' operator needs a text field")
    if isinstance(field, models.IntegerField):
        return _coerce_integer(operator, value)
    for field_class, coerce in _COERCERS:
        if isinstance(field, field_class):
            return operator, coerce(field, value)
    return operator, _coerce_other(field, value)


def _coerce_in_values(field: models.Field, values: Sequence[Any]) -> list[Any]:
    coerced = []
    for value in values:
        try:
            coerced.append(_coerce_column_value(field, "eq", value)[1])
        except _NoMatch:
            continue
    return coerced


def _check_column_operand(
    model: type[models.Model], name: str, operator: str, operand: Any
) -> None:
    """Eager form of the checks ``_ColumnCondition`` makes when resolved."""
    try:
        field = model._meta.get_field(name)
    except FieldDoesNotExist:
        return  # an annotation or a relation path: checked when resolved
    if operator == "in":
        _coerce_in_values(field, operand)
    elif operator != "pr" and not isinstance(field, models.JSONField):
        with contextlib.suppress(_NoMatch):
            _coerce_column_value(field, operator, operand)


class _TextComparison(Lookup):
    """Case-sensitive, LIKE-free text comparison (see ``text_comparison_sql``)."""

    operator = "eq"

    def as_sql(self, compiler: Any, connection: Any) -> tuple[str, list[Any]]:
        lhs_sql, lhs_params = self.process_lhs(compiler, connection)
        rhs_sql, rhs_params = self.process_rhs(compiler, connection)
        if rhs_sql != "%s":
            raise ValueError("text comparisons take a plain value")
        sql, count = text_comparison_sql(connection.vendor, lhs_sql, self.operator)
        return sql, [*lhs_params, *(rhs_params * count)]


_TEXT_LOOKUPS: dict[str, type[Lookup]] = {
    operator: type(
        f"_Text_{operator}",
        (_TextComparison,),
        {"operator": operator, "lookup_name": f"crest_{operator}"},
    )
    for operator in _COMPARISONS | _STRING_ONLY
}
_LOOKUPS: dict[str, type[Lookup]] = {
    "eq": Exact,
    "lt": LessThan,
    "le": LessThanOrEqual,
    "gt": GreaterThan,
    "ge": GreaterThanOrEqual,
}


def _column_condition(column: Expression, operator: str, operand: Any) -> Expression:
    """The condition on a resolved column whose field type is now known."""
    field = column.output_field
    if operator == "pr":
        return IsNull(column, False)
    if operator == "in":
        values = _coerce_in_values(field, operand)
        return In(column, values) if values else Value(False)
    try:
        operator, value = _coerce_column_value(field, operator, operand)
    except _NoMatch:
        return Value(False)
    lookups = _TEXT_LOOKUPS if _is_text(field) else _LOOKUPS
    return lookups[operator](column, value)


class _ColumnCondition(Expression):
    """A comparison on a column, built once the queryset tells the field type.

    ``ColumnTarget`` carries only a name, so coercing the value (and choosing a
    text or typed comparison) waits for ``resolve_expression``; a JSONField
    column is compared as a JSON value.
    """

    conditional = True
    output_field = models.BooleanField()

    def __init__(
        self, name: str, operator: str, operand: Any, two_valued: bool
    ) -> None:
        super().__init__()
        self.name, self.operator, self.operand = name, operator, operand
        self.two_valued = two_valued

    def resolve_expression(
        self,
        query: Any = None,
        allow_joins: bool = True,
        reuse: Any = None,
        summarize: bool = False,
        for_save: bool = False,
    ) -> Expression:
        column = F(self.name).resolve_expression(query, allow_joins, reuse, summarize)
        if isinstance(column.output_field, models.JSONField):
            condition: Expression = JsonPredicate(
                column,
                (),
                operator=self.operator,
                value=self.operand,
                two_valued=self.two_valued,
            )
        else:
            condition = _column_condition(column, self.operator, self.operand)
        return condition.resolve_expression(
            query, allow_joins, reuse, summarize, for_save
        )
