"""Bulk import records: the metadata record, staged rows and failed rows."""

import uuid

from django.db import models
from django.utils import timezone

from managed.models import ManagedObjectType


class ImportStatus(models.TextChoices):
    """Lifecycle of an import (the ``status`` extension of design section 6)."""

    QUEUED = "queued"
    STAGING = "staging"
    IMPORTING = "importing"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    FAILED = "failed"


RUNNING_STATUSES = (ImportStatus.QUEUED, ImportStatus.STAGING, ImportStatus.IMPORTING)


class ImportRecord(models.Model):
    """One uploaded file and its import: IDM's ``csv/metadata/<uuid>`` record."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    rev = models.PositiveBigIntegerField(default=1)
    object_type = models.ForeignKey(
        ManagedObjectType, on_delete=models.PROTECT, related_name="imports"
    )
    resource_path = models.CharField(max_length=255, db_index=True)
    filename = models.CharField(max_length=255)
    file = models.CharField(max_length=500, help_text="name in the imports storage")
    file_size = models.BigIntegerField(default=0)
    header = models.JSONField(default=list)
    unique_properties = models.JSONField(default=list)
    recon_id = models.CharField(max_length=100)
    is_dry_run = models.BooleanField(default=False)
    status = models.CharField(
        max_length=16, choices=ImportStatus.choices, default=ImportStatus.QUEUED
    )
    message = models.TextField(blank=True)
    total = models.BigIntegerField(default=0)
    success = models.BigIntegerField(default=0)
    failure = models.BigIntegerField(default=0)
    created = models.BigIntegerField(default=0)
    updated = models.BigIntegerField(default=0)
    unchanged = models.BigIntegerField(default=0)
    temp_records = models.BigIntegerField(default=0)
    begin = models.DateTimeField(default=timezone.now, db_index=True)
    end = models.DateTimeField(null=True, blank=True)
    cancelled = models.BooleanField(default=False)
    import_deleted = models.BooleanField(default=False)
    purged_temp_records = models.BooleanField(default=False)
    purged_error_records = models.BooleanField(default=False)
    auth_id = models.CharField(max_length=150)
    authz_component = models.CharField(max_length=100, default="internal/user")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-begin"]
        indexes = [models.Index(fields=["status", "begin"])]

    def __str__(self) -> str:
        return f"{self.filename} ({self.id})"

    @property
    def processed(self) -> int:
        """Rows done so far: every row is either a success or a failure."""
        return self.success + self.failure

    @property
    def is_running(self) -> bool:
        return self.status in RUNNING_STATUSES


class TempRecord(models.Model):
    """A staged CSV row waiting to be reconciled into a managed object.

    Staging writes millions of these, so the row is kept lean: the primary
    key is (import, row number), the order chunks are read in, with no
    surrogate id, sequence or second index to maintain; no foreign-key check
    (every path that ends an import deletes its temp rows explicitly); no
    index on the key (``staging.mark_duplicates`` reads all keys in one
    pass); and the cells are JSON *text*, which PostgreSQL stores as it comes
    instead of parsing every row into jsonb. The chunk statement parses the
    cells only of rows that match a stored object (``correlation``). On 1M
    rows this halves what staging costs the database (bench/README.md).
    """

    pk = models.CompositePrimaryKey("import_record", "row_number")
    import_record = models.ForeignKey(
        ImportRecord,
        on_delete=models.CASCADE,
        related_name="temp_rows",
        db_constraint=False,
        db_index=False,
    )
    row_number = models.BigIntegerField()
    cells = models.TextField(help_text="the row's cells, a JSON array of strings")
    # NULL, not "", marks a blank key: "" is a real key value of a one-column key.
    key = models.TextField(  # noqa: DJ001
        null=True, help_text="correlation key, null when blank"
    )
    first_row = models.BigIntegerField(
        null=True, help_text="row that already used this key (duplicate in the file)"
    )

    class Meta:
        db_table = "imports_staged_row"

    def __str__(self) -> str:
        return f"row {self.row_number} of import {self.import_record_id}"


class ErrorRecord(models.Model):
    """A row that failed, with its original cells and the CREST error."""

    import_record = models.ForeignKey(
        ImportRecord, on_delete=models.CASCADE, related_name="error_rows"
    )
    row_number = models.BigIntegerField()
    cells = models.JSONField()
    error = models.JSONField()

    class Meta:
        ordering = ["row_number"]
        constraints = [
            models.UniqueConstraint(
                fields=["import_record", "row_number"], name="error_record_row_uniq"
            )
        ]

    def __str__(self) -> str:
        return f"row {self.row_number}"
