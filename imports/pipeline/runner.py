"""The import state machine: queued -> staging -> importing -> completed.

``import_run`` is safe to call again for the same import at any point: a
finished import is left alone, an interrupted staging starts over, and an
interrupted import carries on with the temp rows still waiting. Once staged,
an import on PostgreSQL is shared with helper tasks (``import_reconcile``)
that claim chunks beside it; whichever worker finds no row left completes it.
"""

import logging
import time
import uuid
from collections.abc import Callable

from django.db.models import F
from django.utils import timezone

from imports.conf import cancel_requested, chunk_size, reconcile_workers
from imports.models import RUNNING_STATUSES, ImportRecord, ImportStatus, TempRecord
from imports.pipeline.errors import ImportStoppedError
from imports.pipeline.reconcile import ImportContext, reconcile_rows
from imports.pipeline.staging import stage_rows
from managed.services import (
    ensure_type_indexed,
    managed_type_compile,
    type_holds_objects,
)

logger = logging.getLogger(__name__)


RECONCILE_TASK = "imports.tasks.import_reconcile"
CANCEL_WAIT_SECONDS = 60  # longer than SQLite's 30 s busy timeout


def finalize(record: ImportRecord) -> None:
    """Mark the import complete, unless another worker still holds rows of it.

    Every worker calls this after its last chunk; a row still staged means a
    chunk is in flight elsewhere, and that worker completes the import. The
    type's deferred indexes are built first: the import ends once its objects
    can be queried as fast as any others.
    """
    if TempRecord.objects.filter(import_record=record).exists():
        return
    index_imported_type(record)
    ImportRecord.objects.filter(pk=record.pk, status=ImportStatus.IMPORTING).update(
        status=ImportStatus.COMPLETED,
        end=timezone.now(),
        temp_records=0,
        purged_temp_records=True,
        rev=F("rev") + 1,
    )


def index_imported_type(record: ImportRecord) -> None:
    """Build the searchable indexes an import deferred (``managed.indexes``).

    The rows of a type's first import go in with its unique indexes only;
    whichever worker ends the import, completed or stopped, builds the rest
    once no other writer needs the lock. A dry run writes nothing.
    """
    if record.is_dry_run or not type_holds_objects(record.object_type):
        return
    # SQLite: a cancel waits for the write lock; let it commit first.
    deadline = time.monotonic() + CANCEL_WAIT_SECONDS
    while cancel_requested(record.pk) and time.monotonic() < deadline:
        time.sleep(0.05)
    ensure_type_indexed(managed_type_compile(record.object_type))


def mark_failed(record_id: uuid.UUID, message: str) -> None:
    """Record why an import died; its temp rows stay for cleanup or retry."""
    ImportRecord.objects.filter(pk=record_id, status__in=RUNNING_STATUSES).update(
        status=ImportStatus.FAILED,
        end=timezone.now(),
        message=message[:2000],
        rev=F("rev") + 1,
    )


def _reconcile(record: ImportRecord, *, part: int = 0, parts: int = 1) -> None:
    """Reconcile what this worker can claim, starting at its part of the file."""
    context = ImportContext(record, managed_type_compile(record.object_type))
    size = chunk_size()
    total = ImportRecord.objects.values_list("total", flat=True).get(pk=record.pk)
    # Rows are numbered 2.. (the header is row 1); parts start on a window edge.
    start_row = (total + 1) * part // parts // size * size
    reconcile_rows(context, size, start_row=start_row)
    finalize(record)


def _enqueue_helpers(record: ImportRecord, parts: int) -> None:
    from django_q.tasks import async_task

    for part in range(1, parts):
        async_task(
            RECONCILE_TASK,
            str(record.pk),
            part,
            parts,
            task_name=f"import {record.pk} part {part}"[:100],
        )


def _current_status(record_id: uuid.UUID) -> str:
    status = ImportRecord.objects.filter(pk=record_id).values_list("status", flat=True)
    return status.first() or "deleted"


def _guarded(record: ImportRecord, work: Callable[[], None]) -> str:
    """Run ``work``; a stop is normal, anything else fails the import."""
    try:
        work()
    except ImportStoppedError:
        logger.info("import %s stopped (cancelled or deleted)", record.pk)
        index_imported_type(record)
    except Exception as error:
        logger.exception("import %s failed", record.pk)
        mark_failed(record.pk, f"{type(error).__name__}: {error}")
        _index_after_failure(record)
        raise
    return _current_status(record.pk)


def _index_after_failure(record: ImportRecord) -> None:
    """``index_imported_type`` when the import failed: best effort, since
    whatever failed it (a lost database, say) may fail this too, and the
    original error is the one to report."""
    try:
        index_imported_type(record)
    except Exception:
        logger.exception("import %s: building its type's indexes failed", record.pk)


def _load(import_id: str | uuid.UUID) -> ImportRecord | None:
    return (
        ImportRecord.objects.select_related("object_type").filter(pk=import_id).first()
    )


def import_run(import_id: str | uuid.UUID) -> str:
    """Run (or resume) one import to its end; return its final status."""
    record = _load(import_id)
    if record is None or record.status not in RUNNING_STATUSES:
        return record.status if record else "deleted"

    def work() -> None:
        if record.status in (ImportStatus.QUEUED, ImportStatus.STAGING):
            stage_rows(record)
            parts = reconcile_workers()
            if parts > 1:
                _enqueue_helpers(record, parts)
        _reconcile(record)

    return _guarded(record, work)


def import_reconcile(import_id: str | uuid.UUID, part: int, parts: int) -> str:
    """Help reconcile a staged import, from part ``part`` of ``parts`` on."""
    record = _load(import_id)
    if record is None or record.status != ImportStatus.IMPORTING:
        return record.status if record else "deleted"
    return _guarded(record, lambda: _reconcile(record, part=part, parts=parts))
