"""Stage 1: stream the stored CSV into TempRecords, then flag duplicate keys.

Staging never touches managed objects, so a worker that dies here simply
stages again from the start: the import's temp and error rows are wiped
first. Rows that cannot even be read (wrong number of cells, bad bytes)
become ErrorRecords straight away.
"""

from collections.abc import Iterator, Sequence
from itertools import islice

from django.db import connection, transaction
from django.db.models import F

from idmimport.bulk import bulk_insert
from imports.conf import chunk_size, import_storage
from imports.models import ErrorRecord, ImportRecord, ImportStatus, TempRecord
from imports.parsing.csv_reader import CsvRow, iter_rows
from imports.pipeline.errors import ImportStoppedError, bad_row_error

TEMP_FIELDS = ("import_record_id", "row_number", "cells", "key")
ERROR_FIELDS = ("import_record_id", "row_number", "cells", "error")
KEY_SEPARATOR = "\x1f"  # ASCII unit separator: cannot be typed into a cell by accident


def correlation_key(cells: Sequence[str], key_columns: Sequence[int]) -> str | None:
    """The row's uniqueProperty values as one text; None when any is blank."""
    values = [cells[index] for index in key_columns]
    if any(value == "" for value in values):
        return None
    return KEY_SEPARATOR.join(values)


def key_columns_of(record: ImportRecord) -> list[int]:
    """Positions of the uniqueProperty columns in the file's header."""
    return [record.header.index(name) for name in record.unique_properties]


def _batches(rows: Iterator[CsvRow], size: int) -> Iterator[list[CsvRow]]:
    while batch := list(islice(rows, size)):
        yield batch


def _reset_staging(record: ImportRecord) -> None:
    with transaction.atomic():
        TempRecord.objects.filter(import_record=record).delete()
        ErrorRecord.objects.filter(import_record=record).delete()
        changed = ImportRecord.objects.filter(
            pk=record.pk, status__in=(ImportStatus.QUEUED, ImportStatus.STAGING)
        ).update(
            status=ImportStatus.STAGING,
            total=0,
            failure=0,
            temp_records=0,
            rev=F("rev") + 1,
        )
    if not changed:
        raise ImportStoppedError


def _write_batch(
    record: ImportRecord, batch: list[CsvRow], key_columns: list[int]
) -> None:
    temp_rows, error_rows = [], []
    for row in batch:
        if row.error:
            error_rows.append(
                (record.pk, row.row_number, row.cells, bad_row_error(row.error))
            )
        else:
            key = correlation_key(row.cells, key_columns)
            temp_rows.append((record.pk, row.row_number, row.cells, key))
    with transaction.atomic():
        changed = ImportRecord.objects.filter(
            pk=record.pk, status=ImportStatus.STAGING
        ).update(
            total=F("total") + len(batch),
            failure=F("failure") + len(error_rows),
            temp_records=F("temp_records") + len(temp_rows),
            rev=F("rev") + 1,
        )
        if not changed:
            raise ImportStoppedError
        bulk_insert(TempRecord, TEMP_FIELDS, temp_rows)
        bulk_insert(ErrorRecord, ERROR_FIELDS, error_rows)


def mark_duplicates(record: ImportRecord) -> int:
    """Flag every row whose key an earlier row of the file already used.

    One set-based statement per import (no in-memory set of keys, so memory
    does not grow with the file); the first row keeps the key.
    """
    table = connection.ops.quote_name(TempRecord._meta.db_table)
    import_id = ImportRecord._meta.pk.get_db_prep_value(record.pk, connection)
    sql = (
        f"UPDATE {table} SET first_row = dup.first_row "
        f"FROM (SELECT key, MIN(row_number) AS first_row FROM {table} "
        "WHERE import_record_id = %s AND key IS NOT NULL "
        "GROUP BY key HAVING COUNT(*) > 1) AS dup "
        f"WHERE {table}.import_record_id = %s AND {table}.key = dup.key "
        f"AND {table}.row_number > dup.first_row"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [import_id, import_id])
        return cursor.rowcount


def stage_rows(record: ImportRecord) -> None:
    """Stage every row of the stored file, then move on to importing."""
    _reset_staging(record)
    key_columns = key_columns_of(record)
    with import_storage().open(record.file, "rb") as stream:
        rows = iter_rows(stream, expected_columns=len(record.header))
        for batch in _batches(rows, chunk_size()):
            _write_batch(record, batch, key_columns)
    with transaction.atomic():
        mark_duplicates(record)
        changed = ImportRecord.objects.filter(
            pk=record.pk, status=ImportStatus.STAGING
        ).update(status=ImportStatus.IMPORTING, rev=F("rev") + 1)
        if not changed:
            raise ImportStoppedError
