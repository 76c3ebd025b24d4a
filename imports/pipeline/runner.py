"""The import state machine: queued -> staging -> importing -> completed.

``import_run`` is safe to call again for the same import at any point: a
finished import is left alone, an interrupted staging starts over, and an
interrupted import carries on with the temp rows still waiting.
"""

import logging
import uuid

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from imports.conf import chunk_size
from imports.models import RUNNING_STATUSES, ImportRecord, ImportStatus, TempRecord
from imports.pipeline.errors import ImportStoppedError
from imports.pipeline.reconcile import ImportContext, reconcile_next_chunk
from imports.pipeline.staging import stage_rows
from managed.services import managed_type_compile

logger = logging.getLogger(__name__)


def finalize(record: ImportRecord) -> None:
    """Mark the import complete and drop whatever temp rows remain."""
    with transaction.atomic():
        changed = ImportRecord.objects.filter(
            pk=record.pk, status=ImportStatus.IMPORTING
        ).update(
            status=ImportStatus.COMPLETED,
            end=timezone.now(),
            temp_records=0,
            purged_temp_records=True,
            rev=F("rev") + 1,
        )
        if changed:
            TempRecord.objects.filter(import_record=record).delete()


def mark_failed(record_id: uuid.UUID, message: str) -> None:
    """Record why an import died; its temp rows stay for cleanup or retry."""
    ImportRecord.objects.filter(pk=record_id, status__in=RUNNING_STATUSES).update(
        status=ImportStatus.FAILED,
        end=timezone.now(),
        message=message[:2000],
        rev=F("rev") + 1,
    )


def import_run(import_id: str | uuid.UUID) -> str:
    """Run (or resume) one import to its end; return its final status."""
    record = (
        ImportRecord.objects.select_related("object_type").filter(pk=import_id).first()
    )
    if record is None or record.status not in RUNNING_STATUSES:
        return record.status if record else "deleted"
    try:
        if record.status in (ImportStatus.QUEUED, ImportStatus.STAGING):
            stage_rows(record)
        context = ImportContext(record, managed_type_compile(record.object_type))
        size = chunk_size()
        while reconcile_next_chunk(context, size):
            pass
        finalize(record)
    except ImportStoppedError:
        logger.info("import %s stopped (cancelled or deleted)", import_id)
    except Exception as error:
        logger.exception("import %s failed", import_id)
        mark_failed(record.pk, f"{type(error).__name__}: {error}")
        raise
    status = ImportRecord.objects.filter(pk=record.pk).values_list("status", flat=True)
    return status.first() or "deleted"
