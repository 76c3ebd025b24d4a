"""Use cases of bulk imports. API views, admin actions, commands and tasks
all call these functions; none of them writes import models directly."""

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.core.files.uploadedfile import UploadedFile
from django.db import connection, transaction
from django.db.models import Exists, F, OuterRef
from django.utils import timezone

from imports.conf import cancel_request_path, import_storage, max_upload_bytes
from imports.exceptions import (
    BadRequestError,
    ConflictError,
    ImportNotFoundError,
    PayloadTooLargeError,
)
from imports.models import (
    RUNNING_STATUSES,
    ErrorRecord,
    ImportRecord,
    ImportStatus,
    TempRecord,
)
from imports.parsing.csv_reader import CsvHeaderError, check_header, read_header
from managed.services import ManagedType

logger = logging.getLogger(__name__)

RUN_TASK = "imports.tasks.import_run"
AUTHZ_COMPONENT = "internal/user"


@dataclass(frozen=True)
class CheckedUpload:
    """An upload whose header passed every check, not yet stored."""

    upload: UploadedFile
    header: list[str]


def parse_unique_properties(raw: str | None) -> list[str]:
    """``uniqueProperty=a,b`` as a list; 400 when missing or blank."""
    names = [name.strip() for name in (raw or "").split(",")]
    names = [name for name in names if name]
    if not names:
        raise BadRequestError(
            "The uniqueProperty parameter is required: name the propert(ies) that "
            "identify an object, e.g. uniqueProperty=userName"
        )
    if len(set(names)) != len(names):
        raise BadRequestError(f"uniqueProperty names a property twice: {raw}")
    return names


def _check_unique_properties(managed_type: ManagedType, names: Sequence[str]) -> None:
    columns = {"/".join(p.path) for p in managed_type.schema.csv_columns}
    unknown = [name for name in names if name not in columns]
    if unknown:
        raise BadRequestError(
            f"uniqueProperty {', '.join(repr(n) for n in unknown)} is not an "
            f"importable property of {managed_type.resource_path}",
            detail={"uniqueProperty": unknown},
        )


def check_upload_size(upload_size: int | None) -> None:
    """413 when a request or a file is larger than the configured limit."""
    limit = max_upload_bytes()
    if upload_size is not None and upload_size > limit:
        raise PayloadTooLargeError(
            f"The upload is larger than the limit of {limit} bytes "
            f"({limit / 2**20:.0f} MiB, setting IMPORTS_MAX_UPLOAD_BYTES)",
            detail={"limitBytes": limit},
        )


def _check_upload(
    managed_type: ManagedType, upload: UploadedFile, unique_properties: Sequence[str]
) -> CheckedUpload:
    check_upload_size(upload.size)
    name = upload.name or "upload.csv"
    if not upload.size:
        raise BadRequestError(f"The file '{name}' is empty")
    upload.seek(0)
    try:
        header = read_header(upload)
        check_header(
            header,
            allowed_columns=["/".join(p.path) for p in managed_type.schema.csv_columns],
            unique_properties=unique_properties,
        )
    except CsvHeaderError as error:
        raise BadRequestError(f"{name}: {error.message}", detail=error.detail) from None
    upload.seek(0)
    return CheckedUpload(upload, header)


def import_create(
    *,
    managed_type: ManagedType,
    uploads: Sequence[UploadedFile],
    unique_properties: Sequence[str],
    auth_id: str,
    is_dry_run: bool = False,
) -> list[ImportRecord]:
    """Store each uploaded file, create its record and queue its import.

    Every file is checked before anything is stored, so a rejected request
    leaves nothing behind. Only the header is read here; rows are the
    worker's business, so the answer does not depend on the file's length.
    """
    if not uploads:
        raise BadRequestError(
            "No file in the request: send multipart/form-data with one or more "
            "'upload' parts"
        )
    _check_unique_properties(managed_type, unique_properties)
    checked = [_check_upload(managed_type, u, unique_properties) for u in uploads]
    storage = import_storage()
    records = []
    stored: list[str] = []
    try:
        with transaction.atomic():
            for item in checked:
                record_id = uuid.uuid4()
                filename = (item.upload.name or "upload.csv")[-255:]
                stored_name = storage.save(f"{record_id}.csv", item.upload)
                stored.append(stored_name)
                records.append(
                    ImportRecord.objects.create(
                        id=record_id,
                        object_type=managed_type.model,
                        resource_path=managed_type.resource_path,
                        filename=filename,
                        file=stored_name,
                        file_size=item.upload.size or 0,
                        header=item.header,
                        unique_properties=list(unique_properties),
                        recon_id=f"{uuid.uuid4()}-{record_id.int % 10000}",
                        is_dry_run=is_dry_run,
                        auth_id=auth_id,
                        authz_component=AUTHZ_COMPONENT,
                    )
                )
            for record in records:
                transaction.on_commit(lambda pk=record.pk: enqueue_import(pk))
    except Exception:
        for name in stored:
            storage.delete(name)
        raise
    return records


def enqueue_import(import_id: uuid.UUID) -> None:
    """Hand an import to the django-q2 workers (ids only, never objects)."""
    from django_q.tasks import async_task

    async_task(RUN_TASK, str(import_id), task_name=f"import {import_id}"[:100])


def import_get(import_id: str | uuid.UUID) -> ImportRecord:
    """One import record, or CREST 404."""
    try:
        key = uuid.UUID(str(import_id))
    except ValueError:
        raise ImportNotFoundError(
            f"Resource 'csv/metadata/{import_id}' not found"
        ) from None
    record = ImportRecord.objects.filter(pk=key, import_deleted=False).first()
    if record is None:
        raise ImportNotFoundError(f"Resource 'csv/metadata/{import_id}' not found")
    return record


def import_cancel(import_id: str | uuid.UUID) -> ImportRecord:
    """Stop a running import between chunks; a finished one is left alone.

    ``total`` becomes the rows processed so far, so the counters still add up.
    """
    record = import_get(import_id)
    request = None
    if connection.vendor == "sqlite" and record.is_running:
        request = cancel_request_path(record.pk)  # see its docstring
        request.parent.mkdir(parents=True, exist_ok=True)
        request.touch()
    try:
        ImportRecord.objects.filter(pk=record.pk, status__in=RUNNING_STATUSES).update(
            status=ImportStatus.CANCELLED,
            cancelled=True,
            end=timezone.now(),
            total=F("success") + F("failure"),
            message="Cancelled before all rows were processed",
            rev=F("rev") + 1,
        )
    finally:
        if request is not None:
            request.unlink(missing_ok=True)
    record.refresh_from_db()
    return record


def import_cleanup(
    import_id: str | uuid.UUID, *, delete_error_records: bool = False
) -> ImportRecord:
    """Purge an import's temp records (and error records when asked)."""
    record = import_get(import_id)
    if record.is_running:
        raise ConflictError(
            f"Import {record.pk} is still running; cancel it or wait for it to end"
        )
    with transaction.atomic():
        TempRecord.objects.filter(import_record=record).delete()
        changes: dict[str, Any] = {
            "temp_records": 0,
            "purged_temp_records": True,
            "rev": F("rev") + 1,
        }
        if delete_error_records:
            ErrorRecord.objects.filter(import_record=record).delete()
            changes["purged_error_records"] = True
        ImportRecord.objects.filter(pk=record.pk).update(**changes)
    record.refresh_from_db()
    return record


def import_cleanup_list() -> list[str]:
    """UUIDs of imports still holding temp or error records."""
    temp = TempRecord.objects.filter(import_record=OuterRef("pk"))
    errors = ErrorRecord.objects.filter(import_record=OuterRef("pk"))
    holding = ImportRecord.objects.filter(import_deleted=False).filter(
        Exists(temp) | Exists(errors)
    )
    return [str(pk) for pk in holding.order_by("begin").values_list("pk", flat=True)]


def import_delete(import_id: str | uuid.UUID) -> dict[str, Any]:
    """Delete an import's record, temp and error rows and stored file.

    Imported managed objects stay. A running import is cancelled first, so
    its worker stops at the next chunk. Returns the record as it was, with
    ``importDeleted`` true.
    """
    from imports.selectors import import_json

    record = import_cancel(import_id)
    body = import_json(record)
    body["importDeleted"] = True
    with transaction.atomic():
        TempRecord.objects.filter(import_record=record).delete()
        ErrorRecord.objects.filter(import_record=record).delete()
        record.delete()
    import_storage_delete(record.file)
    return body


def import_storage_delete(name: str) -> None:
    """Remove a stored upload, tolerating one already gone."""
    if not name:
        return
    storage = import_storage()
    try:
        storage.delete(name)
    except OSError:
        logger.warning("could not delete stored upload %s", name, exc_info=True)


def imports_purge(
    *,
    delete_error_records: bool = False,
    import_ids: Sequence[str] | None = None,
    error_retention_days: int = 0,
) -> list[ImportRecord]:
    """cleanupList then cleanup of each listed import (the cron command).

    Running imports are skipped. With ``error_retention_days`` the error
    records of imports that ended longer ago than that go too.
    """
    targets = list(import_ids) if import_ids else import_cleanup_list()
    expiry = timezone.now() - timedelta(days=error_retention_days)
    purged = []
    for import_id in targets:
        record = import_get(import_id)
        if record.is_running:
            continue
        expired = bool(error_retention_days and record.end and record.end < expiry)
        purged.append(
            import_cleanup(
                record.pk, delete_error_records=delete_error_records or expired
            )
        )
    return purged
