"""CSV cell conversion by schema type (design.md section 5, points 3-4).

Pure and compiled once per header: ``compile_row_coercer`` builds one
closure over a precomputed plan, so a row costs a loop over its cells with
no schema lookups. Rules:

- ``string``: the cell as is (never stripped);
- ``boolean``: ``true`` / ``false``, case-insensitive;
- ``number``: JSON number syntax; ``3`` -> int, ``3.5`` / ``1e2`` -> float;
- ``integer``: JSON number syntax with an integral value (``3``, ``3.0``,
  ``1e2`` -> int; ``3.5`` fails);
- NaN, Infinity, hex, a leading ``+`` or ``0``, spaces, overflow: fail;
- blank cell (``""``): omitted from ``values`` and listed in ``blank_paths``
  (the caller omits it on create, removes the property on update); a
  nullable type changes nothing, CSV has no null literal.

A cell that cannot be converted adds a ``VALID_TYPE`` entry to ``failures``
(``{"invalidType": "string", "validTypes": [declared types]}``) and keeps its
raw string in ``values``: policy validation of ``values`` then reports the
same ``VALID_TYPE`` (``merge_failures`` de-duplicates it) instead of a
misleading ``REQUIRED``. A row with failures must never be written.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from decimal import Decimal
from math import isinf
from typing import Any, NamedTuple

from managed.schema import SCALAR_TYPES, PropertySchema

_JSON_NUMBER_RE = re.compile(r"-?(?:0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?")
_BOOLEANS = {"true": True, "false": False}
_INVALID: Any = object()
# Beyond this decimal exponent an "integer" is no real number any more.
_MAX_INTEGER_EXPONENT = 308


class CoercedRow(NamedTuple):
    """One converted CSV row."""

    values: dict[str, Any]
    blank_paths: tuple[tuple[str, ...], ...]
    failures: list[dict[str, Any]]


class RowLengthError(ValueError):
    """A row whose cell count differs from the header's (never padded: on
    update a padded blank would remove data)."""

    def __init__(self, expected: int, actual: int) -> None:
        self.expected = expected
        self.actual = actual
        super().__init__(f"expected {expected} cells, found {actual}")


def parse_boolean(cell: str) -> Any:
    """``True``/``False`` for ``true``/``false`` in any case, else the sentinel."""
    return _BOOLEANS.get(cell.lower(), _INVALID)


def parse_number(cell: str) -> Any:
    """JSON number: int without fraction/exponent, else finite float."""
    match = _JSON_NUMBER_RE.fullmatch(cell)
    if match is None:
        return _INVALID
    if match.group(1) is None and match.group(2) is None:
        try:
            return int(cell)
        except ValueError:  # more digits than int() accepts
            return _INVALID
    value = float(cell)
    return _INVALID if isinf(value) else value


def parse_integer(cell: str) -> Any:
    """JSON number with an integral value, as int."""
    match = _JSON_NUMBER_RE.fullmatch(cell)
    if match is None:
        return _INVALID
    if match.group(1) is None and match.group(2) is None:
        try:
            return int(cell)
        except ValueError:
            return _INVALID
    number = Decimal(cell)
    if (
        number.adjusted() > _MAX_INTEGER_EXPONENT
        or number != number.to_integral_value()
    ):
        return _INVALID
    return int(number)


_CONVERTERS: dict[str, Callable[[str], Any] | None] = {
    "string": None,
    "boolean": parse_boolean,
    "number": parse_number,
    "integer": parse_integer,
}


def is_invalid(value: Any) -> bool:
    """Whether a ``parse_*`` result is the "cannot convert" sentinel."""
    return value is _INVALID


def _type_failure(column: str, valid_types: list[str]) -> dict[str, Any]:
    return {
        "property": column,
        "policyRequirements": [
            {
                "policyRequirement": "VALID_TYPE",
                "params": {"invalidType": "string", "validTypes": list(valid_types)},
            }
        ],
    }


def _set_nested(
    values: dict[str, Any], parents: tuple[str, ...], name: str, value: Any
) -> None:
    target = values
    for parent in parents:
        child = target.get(parent)
        if child is None:
            child = target[parent] = {}
        target = child
    target[name] = value


def compile_row_coercer(
    columns: Sequence[PropertySchema],
) -> Callable[[Sequence[str]], CoercedRow]:
    """A function converting one row of cells (in ``columns`` order).

    ``columns`` must be scalar properties (``ObjectSchema.csv_columns``
    members); raises ``ValueError`` otherwise, and the returned function
    raises ``RowLengthError`` for a row with the wrong number of cells.
    """
    plan = []
    for prop in columns:
        if prop.type not in SCALAR_TYPES:
            raise ValueError(
                f"column '{prop.column}' has non-scalar type {prop.type!r}"
            )
        plan.append(
            (
                prop.path,
                prop.path[-1],
                prop.path[:-1],
                _CONVERTERS[prop.type],
                prop.column,
                list(prop.types),
            )
        )
    steps = tuple(plan)
    width = len(steps)

    def coerce(cells: Sequence[str]) -> CoercedRow:
        if len(cells) != width:
            raise RowLengthError(width, len(cells))
        values: dict[str, Any] = {}
        blanks: list[tuple[str, ...]] = []
        failures: list[dict[str, Any]] = []
        for (path, name, parents, convert, column, types), cell in zip(
            steps, cells, strict=True
        ):
            if cell == "":
                blanks.append(path)
                continue
            value = cell
            if convert is not None:
                value = convert(cell)
                if value is _INVALID:
                    failures.append(_type_failure(column, types))
                    value = cell
            if parents:
                _set_nested(values, parents, name, value)
            else:
                values[name] = value
        return CoercedRow(values, tuple(blanks), failures)

    return coerce
