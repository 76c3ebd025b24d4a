"""SQL for values inside JSON columns, per database vendor (SQLite, PostgreSQL).

``json_text_sql`` is the single source of truth for the expression that per-type
expression indexes are built on: a query can only use such an index when it
emits the very same expression, with the JSON path inlined as a literal rather
than bound as a parameter. Everything here that reads a property goes through
the ``json_*_sql`` builders for that reason.

Known SQLite limitation (SQLite < 3.45): object keys are matched against the
raw JSON text, so keys stored with escapes (non-ASCII keys, which Django writes
as ``\\uXXXX``, or keys containing ``"``) cannot be addressed; newer SQLite
versions decode them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, TypeAlias

from django.db import NotSupportedError
from django.db.models import BooleanField, Expression, F, Field, JSONField, TextField

__all__ = [
    "JSON_KINDS",
    "JsonPredicate",
    "JsonText",
    "JsonTypeIs",
    "JsonValue",
    "json_text_sql",
    "json_type_sql",
    "json_value_sql",
    "text_comparison_sql",
]

Path: TypeAlias = tuple[str, ...]
Scalar: TypeAlias = str | int | float | bool

POSTGRESQL, SQLITE = "postgresql", "sqlite"

# Portable JSON kinds; "true"/"false" are separate so booleans can be matched
# without comparing values (SQLite reports them as two types, not as 1/0).
JSON_KINDS = frozenset({"string", "number", "true", "false", "null", "object", "array"})
_SQLITE_TYPE_NAMES = {
    "string": ("text",),
    "number": ("integer", "real"),
    "true": ("true",),
    "false": ("false",),
    "null": ("null",),
    "object": ("object",),
    "array": ("array",),
}

_COMPARISON_SQL = {"eq": "=", "lt": "<", "le": "<=", "gt": ">", "ge": ">="}
_BOOLEAN_ORDER: dict[str, Callable[[bool, bool], bool]] = {
    "eq": lambda a, b: a == b,
    "lt": lambda a, b: a < b,
    "le": lambda a, b: a <= b,
    "gt": lambda a, b: a > b,
    "ge": lambda a, b: a >= b,
}
_PG_BARE_ELEMENT = re.compile(r"[A-Za-z0-9_]+")


# ---------------------------------------------------------------------------
# Literals


def _sql_string(text: str) -> str:
    if "\x00" in text:
        raise ValueError("JSON path segments cannot contain NUL characters")
    return "'" + text.replace("'", "''") + "'"


def _sqlite_path(path: Path) -> str:
    # Quoted labels keep ".", "[" and digits in keys literal; backslash escapes
    # inside a quoted label are understood by SQLite >= 3.45.
    labels = (
        '."' + segment.replace("\\", "\\\\").replace('"', '\\"') + '"'
        for segment in path
    )
    return _sql_string("$" + "".join(labels))


def _pg_text_array(path: Path) -> str:
    def element(segment: str) -> str:
        if _PG_BARE_ELEMENT.fullmatch(segment) and segment.lower() != "null":
            return segment
        return '"' + segment.replace("\\", "\\\\").replace('"', '\\"') + '"'

    return _sql_string("{" + ",".join(element(segment) for segment in path) + "}")


def _check_vendor(vendor: str) -> None:
    if vendor not in (POSTGRESQL, SQLITE):
        raise NotSupportedError(f"JSON property queries are not supported on {vendor}")


# ---------------------------------------------------------------------------
# Path expressions (plain SQL text, no parameters)


def json_text_sql(vendor: str, column_sql: str, path: Sequence[str]) -> str:
    """SQL reading the value at ``path`` of a JSON column as text.

    PostgreSQL yields text (``->>``/``#>>``); SQLite's ``json_extract`` yields
    native values (text for strings, numbers, 1/0 for booleans). This is the
    expression per-type indexes are created on; keep index DDL and queries on it.
    """
    _check_vendor(vendor)
    path = tuple(path)
    if vendor == SQLITE:
        return f"json_extract({column_sql}, {_sqlite_path(path)})"
    if len(path) == 1:
        return f"({column_sql} ->> {_sql_string(path[0])})"
    return f"({column_sql} #>> {_pg_text_array(path)})"


def json_value_sql(vendor: str, column_sql: str, path: Sequence[str]) -> str:
    """SQL for the value at ``path`` as a comparison operand.

    jsonb on PostgreSQL (compare with ``%s::jsonb``), the native SQL value on
    SQLite (compare with a Python number).
    """
    _check_vendor(vendor)
    path = tuple(path)
    if vendor == SQLITE:
        return json_text_sql(vendor, column_sql, path)
    if len(path) == 1:
        return f"({column_sql} -> {_sql_string(path[0])})"
    return f"({column_sql} #> {_pg_text_array(path)})"


def json_type_sql(vendor: str, column_sql: str, path: Sequence[str]) -> str:
    """SQL naming the JSON type at ``path`` (vendor's names), NULL when absent."""
    _check_vendor(vendor)
    if vendor == SQLITE:
        return f"json_type({column_sql}, {_sqlite_path(tuple(path))})"
    return f"jsonb_typeof({json_value_sql(vendor, column_sql, path)})"


def text_comparison_sql(vendor: str, text_sql: str, operator: str) -> tuple[str, int]:
    """Case-sensitive comparison of ``text_sql`` with a ``%s`` parameter.

    Returns the SQL and how many times the parameter must be passed. ``co`` and
    ``sw`` use ``instr``/``substr`` and ``strpos``/``starts_with`` rather than
    LIKE, which is case-insensitive on SQLite and would treat ``%``/``_`` in
    values as wildcards. Ordering uses code point order on both vendors
    (``COLLATE "C"`` on PostgreSQL, whose database collation may be linguistic).
    """
    _check_vendor(vendor)
    if operator == "co":
        function = "instr" if vendor == SQLITE else "strpos"
        return f"{function}({text_sql}, %s) > 0", 1
    if operator == "sw":
        if vendor == SQLITE:
            return f"substr({text_sql}, 1, length(%s)) = %s", 2
        return f"starts_with({text_sql}, %s)", 1
    symbol = _COMPARISON_SQL[operator]
    if vendor == POSTGRESQL and operator != "eq":
        return f'{text_sql} COLLATE "C" {symbol} %s', 1
    return f"{text_sql} {symbol} %s", 1


# ---------------------------------------------------------------------------
# Predicates over one JSON operand (a path value or an array element)


@dataclass(frozen=True, slots=True)
class _Operand:
    """SQL accessors for one JSON value: as text, typed, and its type name."""

    text: str
    value: str
    type: str


def _type_in_sql(vendor: str, operand: _Operand, kinds: Iterable[str]) -> str:
    """SQL true when the operand's JSON kind is one of ``kinds``."""
    kinds = set(kinds)
    if vendor == SQLITE:
        names = sorted(name for kind in kinds for name in _SQLITE_TYPE_NAMES[kind])
        if not names:
            return "FALSE"
        return f"{operand.type} IN ({', '.join(_sql_string(n) for n in names)})"
    # jsonb_typeof says "boolean" for both, so single booleans compare values.
    booleans = kinds & {"true", "false"}
    names = sorted(kinds - booleans) + (["boolean"] if len(booleans) == 2 else [])
    conditions = (
        [f"{operand.value} = '{kind}'::jsonb" for kind in booleans]
        if len(booleans) == 1
        else []
    )
    if names:
        conditions.append(
            f"{operand.type} IN ({', '.join(_sql_string(n) for n in names)})"
        )
    return "(" + " OR ".join(conditions) + ")" if conditions else "FALSE"


def _string_sql(
    vendor: str, operand: _Operand, operator: str, values: Sequence[str]
) -> tuple[str, list[Any]]:
    guard = _type_in_sql(vendor, operand, ["string"])
    if operator == "in":
        marks = ", ".join(["%s"] * len(values))
        return f"({operand.text} IN ({marks}) AND {guard})", list(values)
    comparison, count = text_comparison_sql(vendor, operand.text, operator)
    return f"({comparison} AND {guard})", list(values) * count


def _number_sql(
    vendor: str, operand: _Operand, operator: str, values: Sequence[int | float]
) -> tuple[str, list[Any]]:
    # PostgreSQL compares jsonb with jsonb (numeric semantics, no cast that could
    # fail on non-numbers); SQLite compares json_extract's native numbers.
    mark, params = (
        ("%s::jsonb", [json.dumps(v) for v in values])
        if vendor == POSTGRESQL
        else ("%s", list(values))
    )
    if operator == "in":
        comparison = f"{operand.value} IN ({', '.join([mark] * len(values))})"
    else:
        comparison = f"{operand.value} {_COMPARISON_SQL[operator]} {mark}"
    return f"({comparison} AND {_type_in_sql(vendor, operand, ['number'])})", params


def _boolean_sql(
    vendor: str, operand: _Operand, operator: str, values: Sequence[bool]
) -> tuple[str, list[Any]]:
    compare = _BOOLEAN_ORDER["eq" if operator == "in" else operator]
    kinds = {
        str(candidate).lower()
        for candidate in (False, True)
        if any(compare(candidate, value) for value in values)
    }
    return _type_in_sql(vendor, operand, kinds), []


def _predicate_sql(
    vendor: str, operand: _Operand, operator: str, values: Sequence[Scalar]
) -> tuple[str, list[Any]]:
    """``operand <operator> value`` for ``values`` all of one kind (bool/number/str)."""
    if operator == "pr":
        return f"({operand.type} IS NOT NULL AND {operand.type} <> 'null')", []
    if all(isinstance(v, bool) for v in values):
        return _boolean_sql(vendor, operand, operator, values)  # type: ignore[arg-type]
    if all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
        return _number_sql(vendor, operand, operator, values)  # type: ignore[arg-type]
    if all(isinstance(v, str) for v in values):
        return _string_sql(vendor, operand, operator, values)  # type: ignore[arg-type]
    raise TypeError("values of one predicate must be all strings, numbers or booleans")


def _group_by_kind(values: Sequence[Scalar]) -> list[list[Scalar]]:
    groups: dict[type, list[Scalar]] = {}
    for value in values:
        # bool before int: True is an int to Python but a separate JSON kind.
        kind = type(value) if isinstance(value, bool | str) else float
        groups.setdefault(kind, []).append(value)
    return list(groups.values())


def _any_predicate_sql(
    vendor: str, operand: _Operand, operator: str, values: Sequence[Scalar]
) -> tuple[str, list[Any]]:
    """Like ``_predicate_sql`` but ``in`` lists may mix kinds (OR of groups)."""
    if operator != "in":
        return _predicate_sql(vendor, operand, operator, values)
    groups = _group_by_kind(values)
    if not groups:
        return "FALSE", []
    parts = [_predicate_sql(vendor, operand, operator, group) for group in groups]
    sql = " OR ".join(part for part, _ in parts)
    return f"({sql})", [param for _, params in parts for param in params]


def _path_operand(vendor: str, column_sql: str, path: Path) -> _Operand:
    return _Operand(
        text=json_text_sql(vendor, column_sql, path),
        value=json_value_sql(vendor, column_sql, path),
        type=json_type_sql(vendor, column_sql, path),
    )


def _array_element_sql(
    vendor: str, column_sql: str, operator: str, values: Sequence[Scalar]
) -> tuple[str, list[Any]]:
    """True when some element of the JSON array in ``column_sql`` matches."""
    if vendor == POSTGRESQL and operator == "eq":
        # Containment can use a GIN index; numbers compare numerically.
        return f"{column_sql} @> %s::jsonb", [json.dumps(list(values))]
    if vendor == SQLITE:
        operand = _Operand(text="je.value", value="je.value", type="je.type")
        condition, params = _any_predicate_sql(vendor, operand, operator, values)
        # json_each would also iterate an object's members or a lone scalar.
        return (
            f"(json_type({column_sql}) = 'array' AND EXISTS (SELECT 1 FROM "
            f"json_each({column_sql}) AS je WHERE {condition}))",
            params,
        )
    operand = _Operand(text="(je.v #>> '{}')", value="je.v", type="jsonb_typeof(je.v)")
    condition, params = _any_predicate_sql(vendor, operand, operator, values)
    # jsonb_array_elements raises on non-arrays; the CASE turns those into NULL.
    return (
        f"EXISTS (SELECT 1 FROM jsonb_array_elements(CASE WHEN jsonb_typeof("
        f"{column_sql}) = 'array' THEN {column_sql} END) AS je(v) WHERE {condition})",
        params,
    )


# ---------------------------------------------------------------------------
# Django expressions


def _escape_percent(sql: str) -> str:
    # Inlined literals end up in a query that is %-formatted by the driver
    # (psycopg) or by Django's SQLite wrapper, both of which turn %% into %.
    return sql.replace("%", "%%")


class _JsonColumnExpression(Expression):
    """Base: an expression over a JSON column (a field name or an expression)."""

    def __init__(
        self,
        column: str | Expression,
        path: Sequence[str] = (),
        *,
        output_field: Field | None = None,
    ) -> None:
        super().__init__(output_field=output_field)
        self.column = F(column) if isinstance(column, str) else column
        self.path: Path = tuple(path)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.column!r}, {self.path!r})"

    def get_source_expressions(self) -> list[Expression]:
        return [self.column]

    def set_source_expressions(self, exprs: Sequence[Expression]) -> None:
        (self.column,) = exprs

    def _column_sql(self, compiler: Any, connection: Any) -> str:
        sql, params = compiler.compile(self.column)
        if params:
            raise ValueError("a JSON column expression must compile without parameters")
        return sql


class JsonText(_JsonColumnExpression):
    """Value at a JSON path as text; the index-backed expression (``json_text_sql``).

    Usable in ``filter()``, ``order_by()`` and ``annotate()``. On SQLite the value
    comes back natively typed (numbers, 1/0 for booleans); on PostgreSQL as text.
    """

    def __init__(self, column: str | Expression, path: Sequence[str]) -> None:
        super().__init__(column, path, output_field=TextField())

    def as_sql(self, compiler: Any, connection: Any) -> tuple[str, list[Any]]:
        column_sql = self._column_sql(compiler, connection)
        sql = json_text_sql(connection.vendor, column_sql, self.path)
        return _escape_percent(sql), []


class JsonValue(_JsonColumnExpression):
    """The JSON value at a path, decoded to Python when selected.

    For ``annotate()``/``values()`` of nested properties with their JSON types
    intact on both vendors (SQLite's ``->`` returns JSON text, PostgreSQL's jsonb
    is decoded by JSONField). Typed comparisons are ``JsonPredicate``'s job.
    """

    def __init__(self, column: str | Expression, path: Sequence[str]) -> None:
        super().__init__(column, path, output_field=JSONField())

    def as_sql(self, compiler: Any, connection: Any) -> tuple[str, list[Any]]:
        vendor = connection.vendor
        column_sql = self._column_sql(compiler, connection)
        if vendor == SQLITE:
            sql = f"({column_sql} -> {_sqlite_path(self.path)})"
        else:
            sql = json_value_sql(vendor, column_sql, self.path)
        return _escape_percent(sql), []


class JsonTypeIs(_JsonColumnExpression):
    """Condition: the JSON kind at ``path`` is one of ``kinds`` (see ``JSON_KINDS``)."""

    conditional = True
    output_field = BooleanField()

    def __init__(
        self, column: str | Expression, path: Sequence[str], kinds: Iterable[str]
    ) -> None:
        super().__init__(column, path)
        self.kinds = frozenset(kinds)
        if not self.kinds <= JSON_KINDS:
            raise ValueError(f"unknown JSON kinds: {sorted(self.kinds - JSON_KINDS)}")

    def as_sql(self, compiler: Any, connection: Any) -> tuple[str, list[Any]]:
        vendor = connection.vendor
        column_sql = self._column_sql(compiler, connection)
        operand = _path_operand(vendor, column_sql, self.path)
        return _escape_percent(_type_in_sql(vendor, operand, self.kinds)), []


class JsonPredicate(_JsonColumnExpression):
    """Condition comparing a JSON value with a filter value, type-strictly.

    ``operator`` is one of ``eq co sw lt le gt ge pr in``; ``value`` is a string,
    number or boolean, or for ``in`` a sequence of them. A string only matches a
    JSON string, a number a JSON number, a boolean a JSON boolean; ``co``/``sw``
    take strings. String ``eq`` renders ``json_text_sql(...) = %s`` so that
    expression indexes apply. With ``any_element`` the column holds a JSON array
    (``path`` must be empty) and the condition holds when any element matches.

    Absent paths make plain comparisons SQL NULL (harmless in a positive WHERE);
    ``two_valued`` wraps the SQL in ``COALESCE(..., FALSE)`` so that a negation
    around it matches objects lacking the property.
    """

    conditional = True
    output_field = BooleanField()
    OPERATORS: ClassVar[frozenset[str]] = frozenset(
        {"eq", "co", "sw", "lt", "le", "gt", "ge", "pr", "in"}
    )

    def __init__(
        self,
        column: str | Expression,
        path: Sequence[str] = (),
        *,
        operator: str,
        value: Scalar | Sequence[Scalar] | None = None,
        any_element: bool = False,
        two_valued: bool = False,
    ) -> None:
        super().__init__(column, path)
        if operator not in self.OPERATORS:
            raise ValueError(f"unsupported operator {operator!r}")
        if any_element and self.path:
            raise ValueError("any_element applies to the column itself, not a path")
        self.operator = operator
        self.values: tuple[Scalar, ...] = (
            tuple(value) if operator == "in" else () if operator == "pr" else (value,)
        )
        self.any_element = any_element
        self.two_valued = two_valued

    def as_sql(self, compiler: Any, connection: Any) -> tuple[str, list[Any]]:
        vendor = connection.vendor
        _check_vendor(vendor)
        column_sql = self._column_sql(compiler, connection)
        if self.any_element and self.operator != "pr":
            sql, params = _array_element_sql(
                vendor, _escape_percent(column_sql), self.operator, self.values
            )
        else:
            operand = _path_operand(vendor, column_sql, self.path)
            escaped = _Operand(
                text=_escape_percent(operand.text),
                value=_escape_percent(operand.value),
                type=_escape_percent(operand.type),
            )
            sql, params = _any_predicate_sql(
                vendor, escaped, self.operator, self.values
            )
        if self.two_valued:
            sql = f"COALESCE({sql}, FALSE)"
        return sql, params
