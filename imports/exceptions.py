"""Errors of the imports app; all are CREST errors with their HTTP code."""

from idmimport.crest.errors import (
    BadRequestError,
    ConflictError,
    NotFoundError,
    PayloadTooLargeError,
)

__all__ = [
    "BadRequestError",
    "ConflictError",
    "ImportNotFoundError",
    "PayloadTooLargeError",
]


class ImportNotFoundError(NotFoundError):
    """No import (or no failure report) under that UUID."""
