"""Row errors in IDM's shape, and the signal that an import must stop."""

from collections.abc import Sequence
from typing import Any

from idmimport.crest.errors import error_body
from managed.policy import policy_error

__all__ = [
    "ImportStoppedError",
    "ambiguous_match_error",
    "bad_row_error",
    "duplicate_key_error",
    "policy_error",
]


class ImportStoppedError(Exception):
    """The import was cancelled or deleted: stop without touching it."""


def bad_row_error(message: str) -> dict[str, Any]:
    """A row that could not be read as CSV."""
    return error_body(400, message)


def duplicate_key_error(properties: Sequence[str], first_row: int) -> dict[str, Any]:
    """A later row repeating a key: the first row wins (design 5.5)."""
    names = ", ".join(properties)
    return error_body(
        409,
        f"Duplicate {names} in the file: row {first_row} has the same value",
        {"firstRow": first_row, "uniqueProperty": list(properties)},
    )


def ambiguous_match_error(properties: Sequence[str], object_ids: Sequence[str]) -> dict:
    """More than one stored object has the row's key."""
    return error_body(
        409,
        f"{len(object_ids)} existing objects match {', '.join(properties)}; "
        "the row is ambiguous",
        {"matches": list(object_ids), "uniqueProperty": list(properties)},
    )
