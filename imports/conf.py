"""Application settings of the imports app, read at call time."""

from pathlib import Path

from django.conf import settings
from django.core.files.storage import Storage, storages
from django.db import connection

STORAGE_ALIAS = "imports"


def import_storage() -> Storage:
    """Where uploaded CSV files live: local files, or S3 by settings alone."""
    return storages[STORAGE_ALIAS]


def max_upload_bytes() -> int:
    """Largest accepted upload (design: configurable, default 1 GiB)."""
    return int(getattr(settings, "IMPORTS_MAX_UPLOAD_BYTES", 1024**3))


def chunk_size() -> int:
    """Rows reconciled per transaction."""
    return int(getattr(settings, "IMPORTS_CHUNK_SIZE", 5000))


def sqlite_rows_per_commit() -> int:
    """SQLite: rows one staging or reconcile transaction covers, several
    batches' worth.

    A SQLite commit writes every page the transaction changed to the WAL, and
    the checkpoint after it copies them back into the database file. A chunk
    of new users changes thousands of index pages at random (``userName``,
    ``mail``); committing every 50,000 rows instead of every 5,000 writes each
    such page once instead of ten times: 1M new users, 89 s -> 63 s; 100,000
    took off another 3% (README, Performance). Memory does not grow with it
    (one batch in Python at a time), and a cancel still stops the worker
    before its next batch, rolling back the rows not yet committed.
    PostgreSQL commits every batch: its workers share an import.
    """
    return int(getattr(settings, "IMPORTS_SQLITE_ROWS_PER_COMMIT", 100_000))


def batches_per_commit(size: int) -> int:
    """Batches of ``size`` rows (staged or reconciled) one transaction covers:
    one on PostgreSQL, ``sqlite_rows_per_commit`` rows' worth on SQLite."""
    if connection.vendor != "sqlite":
        return 1
    return max(1, sqlite_rows_per_commit() // size)


def reconcile_workers() -> int:
    """Workers that reconcile one import together (PostgreSQL only).

    Each chunk is a claim other workers skip, so several django-q2 workers
    can share one import's chunks; one worker's Python then overlaps another's
    database writes. SQLite has a single writer, so it always uses one.
    """
    if connection.vendor != "postgresql":
        return 1
    return max(1, int(getattr(settings, "IMPORTS_RECONCILE_WORKERS", 2)))


def error_retention_days() -> int:
    """Days the cleanup command keeps error records of finished imports (0: forever)."""
    return int(getattr(settings, "IMPORTS_ERROR_RETENTION_DAYS", 0))


def cancel_request_path(import_id: object) -> Path:
    """SQLite: the file by which a cancel asks the worker to stop.

    SQLite has one writer, and a worker begins its next chunk the moment the
    last one commits, so a cancel waiting for the write lock would wait for
    the import to end. The worker looks for this file before each chunk and
    staging batch, stops, and leaves the lock to the cancel.
    """
    return Path(settings.DATA_DIR) / "cancel-requests" / str(import_id)


def cancel_requested(import_id: object) -> bool:
    """Whether a cancel of this import waits for the SQLite write lock."""
    return connection.vendor == "sqlite" and cancel_request_path(import_id).exists()
