"""The failure CSV of an import: the original header plus ``_importError`` (design 5.8).

IDM writes the error cell as a Java ``Map.toString()`` dump, and its clients parse that,
so ``format_error_cell`` reproduces it: ``{code=403, reason=Forbidden, message=...}``
with nested ``{...}`` maps and ``[...]`` lists and no JSON quoting.

Admins open this file in a spreadsheet, and an uploaded cell such as
``=HYPERLINK(...)`` would run there as a formula. ``neutralise_cell`` prefixes such
cells with an apostrophe, the convention spreadsheets display as plain text. To
re-upload a corrected file, remove the ``_importError`` column and any apostrophe
the export added (or download with ``neutralize=false``).

Pure module: no Django, no database.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

FAILURE_COLUMN = "_importError"

_FORMULA_START = ("=", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")
_PHONE_NUMBER = re.compile(r"\+[\d ().\-/]*\d[\d ().\-/]*")
_FLUSH_ROWS = 500

# PostgreSQL's jsonb does not keep key order; IDM writes these keys in this order.
_KEY_ORDER = {
    key: index
    for index, key in enumerate(
        (
            "code",
            "reason",
            "message",
            "detail",
            "result",
            "failedPolicyRequirements",
            "policyRequirements",
            "policyRequirement",
            "params",
        )
    )
}


def format_error_cell(value: Any) -> str:
    """Render ``value`` the way Java's ``Map.toString()`` / ``List.toString()`` do."""
    if isinstance(value, Mapping):
        keys = sorted(value, key=lambda key: _KEY_ORDER.get(key, len(_KEY_ORDER)))
        items = ", ".join(f"{key}={format_error_cell(value[key])}" for key in keys)
        return "{" + items + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(format_error_cell(item) for item in value) + "]"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def neutralise_cell(cell: str) -> str:
    """Return ``cell`` made inert for spreadsheets, or unchanged when it already is.

    A leading ``+`` or ``-`` is kept when the cell is simply a number (``-42``,
    ``+3.5``) or a phone number (``+1 555 0100``): those are common, harmless data.
    """
    if not cell:
        return cell
    first = cell[0]
    if first in _FORMULA_START:
        return "'" + cell
    if first in "+-" and not (
        _PLAIN_NUMBER.fullmatch(cell) or _PHONE_NUMBER.fullmatch(cell)
    ):
        return "'" + cell
    return cell


def iter_failure_csv(
    header: Sequence[str],
    rows: Iterable[tuple[Sequence[str], Any]],
    *,
    neutralise: bool = True,
) -> Iterator[str]:
    """Yield the failure CSV text in pieces of a few hundred rows.

    ``rows`` are ``(cells, error)`` pairs in source order; ``error`` is the CREST
    error body stored for the row. A row shorter or longer than the header (a
    malformed source row) is padded or cut so every line has the header's width.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    # csv quotes a cell holding a line break only if the break is in lineterminator,
    # so a lone CR would be written bare and split the record when read back.
    quote_all = csv.writer(buffer, lineterminator="\n", quoting=csv.QUOTE_ALL)
    writer.writerow([*header, FAILURE_COLUMN])
    width = len(header)
    for count, (cells, error) in enumerate(rows, start=1):
        line = list(cells[:width]) + [""] * (width - len(cells))
        if neutralise:
            line = [neutralise_cell(cell) for cell in line]
        line.append(format_error_cell(error))
        (quote_all if "\r" in "".join(line) else writer).writerow(line)
        if count % _FLUSH_ROWS == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    if buffer.tell():
        yield buffer.getvalue()
