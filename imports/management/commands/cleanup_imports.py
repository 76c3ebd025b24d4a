"""cleanupList plus cleanup, for cron."""

from django.core.management.base import BaseCommand, CommandError

from idmimport.crest.errors import CrestError
from imports.conf import error_retention_days
from imports.services import import_get, imports_purge


class Command(BaseCommand):
    help = (
        "Purge the temp records (and with --delete-error-records the error "
        "records) of finished imports: IDM's cleanupList followed by cleanup. "
        "Running imports are skipped."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--delete-error-records",
            action="store_true",
            help="also delete error records (the failure CSV becomes unavailable)",
        )
        parser.add_argument(
            "--uuid",
            action="append",
            dest="uuids",
            help="only this import (repeatable)",
        )
        parser.add_argument(
            "--error-retention-days",
            type=int,
            default=None,
            help="delete error records of imports ended longer ago than this "
            "(default: IMPORTS_ERROR_RETENTION_DAYS, 0 keeps them)",
        )

    def handle(self, *args, **options):
        days = options["error_retention_days"]
        source = "--error-retention-days"
        if days is None:
            days, source = error_retention_days(), "IMPORTS_ERROR_RETENTION_DAYS"
        # A negative age would put the expiry in the future and delete the
        # error records of every finished import.
        if days < 0:
            raise CommandError(
                f"{source} must be 0 (keep error records) or more, got {days}"
            )
        try:
            # Every --uuid is checked before any is cleaned up, so a typo in
            # one of them leaves the others untouched too.
            for import_id in options["uuids"] or ():
                import_get(import_id)
            purged = imports_purge(
                delete_error_records=options["delete_error_records"],
                import_ids=options["uuids"],
                error_retention_days=days,
            )
        except CrestError as error:
            raise CommandError(error.message) from error
        for record in purged:
            errors = (
                "error records purged"
                if record.purged_error_records
                else "error records kept"
            )
            self.stdout.write(
                f"{record.pk} {record.filename}: temp records purged, {errors}"
            )
        self.stdout.write(f"{len(purged)} import(s) cleaned up")
