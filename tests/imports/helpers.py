"""Helpers for import tests: CSV bodies, uploads and half-run imports."""

from django.core.files.uploadedfile import SimpleUploadedFile

from imports.models import ImportRecord
from imports.pipeline.reconcile import ImportContext
from imports.pipeline.staging import stage_rows
from managed.services import managed_type_compile

HEADER = "userName,givenName,sn,mail,accountStatus,preferences/marketing"


def csv_file(text: str, name: str = "users.csv") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, text.encode("utf-8"), content_type="text/csv")


def upload(
    api,
    text,
    *,
    collection="managed/user",
    unique="userName",
    name="users.csv",
    extra: str = "",
    files=None,
):
    query = f"?uniqueProperty={unique}" if unique is not None else "?"
    data = {"upload": files if files is not None else [csv_file(text, name)]}
    return api.post(f"/upload/csv/{collection}{query}{extra}", data, format="multipart")


def user_row(number: int, given_name: str | None = None) -> str:
    """One valid managed/user row (``u<number>``) for HEADER."""
    given_name = given_name or f"Given{number}"
    return f"u{number},{given_name},Sn{number},u{number}@example.com,active,true"


def stage(import_id: str) -> ImportRecord:
    """Run only the staging stage of a queued import.

    The import is left as a worker leaves it between stages: still running
    (``importing``), its rows waiting as temp records, unreadable rows
    already counted as failures.
    """
    stage_rows(ImportRecord.objects.get(pk=import_id))
    return ImportRecord.objects.get(pk=import_id)


def import_context(record: ImportRecord) -> ImportContext:
    """What a worker reconciling ``record`` works with."""
    return ImportContext(record, managed_type_compile(record.object_type))
