"""Read paths of bulk imports: JSON shapes and CREST query field maps."""

from datetime import UTC, datetime
from typing import Any

from django.db.models import F, QuerySet

from idmimport.crest.filter_compiler import (
    ColumnTarget,
    JsonArrayTarget,
    JsonPathTarget,
    UnknownFieldError,
)
from imports.models import ErrorRecord, ImportRecord

# Metadata field (spec section 3 and the extensions of design section 6) ->
# model column. Filters, sorting and _fields all use these names.
METADATA_COLUMNS = {
    "_id": "id",
    "_rev": "rev",
    "reconId": "recon_id",
    "filename": "filename",
    "resourcePath": "resource_path",
    "total": "total",
    "success": "success",
    "failure": "failure",
    "created": "created",
    "updated": "updated",
    "unchanged": "unchanged",
    "begin": "begin",
    "end": "end",
    "cancelled": "cancelled",
    "importDeleted": "import_deleted",
    "tempRecords": "temp_records",
    "purgedTempRecords": "purged_temp_records",
    "purgedErrorRecords": "purged_error_records",
    "authId": "auth_id",
    "authzComponent": "authz_component",
    "status": "status",
    "processed": "processed_rows",
    "message": "message",
    "dryRun": "is_dry_run",
}


def format_timestamp(value: datetime | None) -> str | None:
    """ISO-8601 UTC with milliseconds and ``Z``, as IDM writes them."""
    if value is None:
        return None
    value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def import_json(record: ImportRecord) -> dict[str, Any]:
    """The metadata record: every field of spec section 3, then extensions."""
    return {
        "_id": str(record.pk),
        "_rev": str(record.rev),
        "header": list(record.header),
        "reconId": record.recon_id,
        "filename": record.filename,
        "resourcePath": record.resource_path,
        "total": record.total,
        "success": record.success,
        "failure": record.failure,
        "created": record.created,
        "updated": record.updated,
        "unchanged": record.unchanged,
        "begin": format_timestamp(record.begin),
        "end": format_timestamp(record.end),
        "cancelled": record.cancelled,
        "importDeleted": record.import_deleted,
        "tempRecords": record.temp_records,
        "purgedTempRecords": record.purged_temp_records,
        "purgedErrorRecords": record.purged_error_records,
        "authId": record.auth_id,
        "authzComponent": record.authz_component,
        "status": record.status,
        "processed": record.processed,
        "message": record.message,
        "uniqueProperty": list(record.unique_properties),
        "dryRun": record.is_dry_run,
    }


def resolve_metadata_field(
    pointer: tuple[str, ...],
) -> ColumnTarget | JsonArrayTarget:
    """Map a filter pointer on a metadata record to its column."""
    if pointer == ("header",):
        return JsonArrayTarget("header")
    if pointer == ("uniqueProperty",):
        return JsonArrayTarget("unique_properties")
    if len(pointer) == 1 and pointer[0] in METADATA_COLUMNS:
        return ColumnTarget(METADATA_COLUMNS[pointer[0]])
    raise UnknownFieldError(pointer)


def import_queryset() -> QuerySet:
    """Visible import records, with the derived ``processed`` count."""
    return ImportRecord.objects.filter(import_deleted=False).annotate(
        processed_rows=F("success") + F("failure")
    )


def error_json(error: ErrorRecord, header: list[str]) -> dict[str, Any]:
    """A failed row as JSON: row number, its cells by column, the error."""
    cells = list(error.cells)
    values = dict(zip(header, cells, strict=False))
    extra = cells[len(header) :]
    body: dict[str, Any] = {
        "_id": str(error.row_number),
        "row": error.row_number,
        "values": values,
        "error": error.error,
    }
    if extra:
        body["extraCells"] = extra
    return body


def resolve_failure_field(pointer: tuple[str, ...]) -> ColumnTarget | JsonPathTarget:
    """Map a filter pointer on a failed row to its storage."""
    if pointer in (("_id",), ("row",)):
        return ColumnTarget("row_number")
    if pointer and pointer[0] == "error":
        return (
            JsonPathTarget("error", pointer[1:])
            if pointer[1:]
            else ColumnTarget("error")
        )
    raise UnknownFieldError(pointer)
