"""Operators browse imports, watch progress, cancel and clean up here.

Actions call the same services as the REST API.
"""

import uuid

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from idmimport.crest.errors import CrestError
from imports import services
from imports.models import RUNNING_STATUSES, ErrorRecord, ImportRecord


@admin.register(ImportRecord)
class ImportRecordAdmin(admin.ModelAdmin):
    list_display = (
        "filename",
        "resource_path",
        "status",
        "progress",
        "total",
        "success",
        "failure",
        "created",
        "updated",
        "unchanged",
        "temp_records",
        "begin",
        "end",
    )
    list_filter = ("resource_path", "status", "cancelled", "is_dry_run")
    search_fields = ("filename",)
    date_hierarchy = "begin"
    actions = ("cancel_imports", "cleanup_imports", "cleanup_imports_and_errors")
    readonly_fields = [f.name for f in ImportRecord._meta.fields] + [
        "progress",
        "failed_rows",
    ]
    list_select_related = ("object_type",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def delete_model(self, request: HttpRequest, obj: ImportRecord) -> None:
        """Delete as the API's DELETE does, so the stored upload goes too."""
        services.import_delete(obj.pk)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet) -> None:
        """The "delete selected" action, one ``import_delete`` per import."""
        for record in queryset:
            services.import_delete(record.pk)

    def get_search_results(self, request, queryset, search_term):
        """Search by import UUID as well as by file name."""
        try:
            return queryset.filter(pk=uuid.UUID(search_term.strip())), False
        except ValueError:
            return super().get_search_results(request, queryset, search_term)

    @admin.display(description="progress")
    def progress(self, obj: ImportRecord) -> str:
        total = max(obj.total, obj.processed, 1)
        return format_html(
            '<progress value="{}" max="{}" title="{} of {} rows"></progress> {}%',
            obj.processed,
            total,
            obj.processed,
            obj.total,
            obj.processed * 100 // total,
        )

    @admin.display(description="failed rows")
    def failed_rows(self, obj: ImportRecord) -> str:
        url = reverse("admin:imports_errorrecord_changelist")
        return format_html(
            '<a href="{}?import_record__id__exact={}">{} failed rows</a>',
            url,
            obj.pk,
            obj.failure,
        )

    def _run(self, request: HttpRequest, queryset: QuerySet, action, verb: str) -> None:
        done = 0
        for record in queryset:
            try:
                action(record.pk)
                done += 1
            except CrestError as error:
                self.message_user(request, f"{record}: {error.message}", messages.ERROR)
        if done:
            self.message_user(request, f"{verb} {done} import(s).", messages.SUCCESS)

    @admin.action(description="Cancel selected imports")
    def cancel_imports(self, request, queryset):
        # Cancelling a finished import is a no-op (as in the API); say so
        # instead of counting it as cancelled.
        for record in queryset.exclude(status__in=RUNNING_STATUSES):
            self.message_user(
                request,
                f"{record}: already {record.status}, nothing to cancel",
                messages.WARNING,
            )
        self._run(
            request,
            queryset.filter(status__in=RUNNING_STATUSES),
            services.import_cancel,
            "Cancelled",
        )

    @admin.action(description="Clean up temp records of selected imports")
    def cleanup_imports(self, request, queryset):
        self._run(request, queryset, services.import_cleanup, "Cleaned up")

    @admin.action(description="Clean up temp and error records of selected imports")
    def cleanup_imports_and_errors(self, request, queryset):
        self._run(
            request,
            queryset,
            lambda pk: services.import_cleanup(pk, delete_error_records=True),
            "Cleaned up",
        )


@admin.register(ErrorRecord)
class ErrorRecordAdmin(admin.ModelAdmin):
    list_display = ("import_record", "row_number", "error_message")
    list_filter = ("import_record",)
    readonly_fields = ("import_record", "row_number", "cells", "error")
    list_select_related = ("import_record",)
    show_full_result_count = False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    @admin.display(description="error")
    def error_message(self, obj: ErrorRecord) -> str:
        return str(obj.error.get("message", ""))[:200]
