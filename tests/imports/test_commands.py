"""The cleanup_imports command: IDM's cleanupList plus cleanup, for cron."""

import io
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from imports import services
from imports.models import ErrorRecord, ImportRecord, ImportStatus, TempRecord
from tests.imports.helpers import HEADER, stage, upload, user_row

# One row imported, one failed: a completed import still holding an error record.
ONE_FAILURE = f"{HEADER}\n{user_row(1)}\nshort,row\n"
# Staged: three rows waiting as temp records, the short row already failed.
STAGED = "\n".join([HEADER, *(user_row(n) for n in (7, 8, 9)), "short,row"]) + "\n"
UNKNOWN_ID = "00000000-0000-4000-8000-000000000000"


def cleanup(*args) -> list[str]:
    out = io.StringIO()
    call_command("cleanup_imports", *args, stdout=out)
    return out.getvalue().splitlines()


def one_id(response) -> str:
    (import_id,) = response.json()["importUUIDs"]
    return import_id


def finished(api, run_imports, name) -> str:
    """A completed import with one error record (its temp records are gone)."""
    return one_id(run_imports(lambda: upload(api, ONE_FAILURE, name=name)))


def cancelled(api, name) -> str:
    """A cancelled import still holding three temp records and one error record."""
    import_id = one_id(upload(api, STAGED, name=name))
    stage(import_id)
    services.import_cancel(import_id)
    return import_id


def running(api, name) -> str:
    """A running import (``importing``) holding three temp and one error record."""
    import_id = one_id(upload(api, STAGED, name=name))
    stage(import_id)
    return import_id


def held(import_id) -> tuple[int, int]:
    """(temp records, error records) an import still holds."""
    return (
        TempRecord.objects.filter(import_record_id=import_id).count(),
        ErrorRecord.objects.filter(import_record_id=import_id).count(),
    )


def flags(import_id) -> tuple[bool, bool]:
    record = ImportRecord.objects.get(pk=import_id)
    return (record.purged_temp_records, record.purged_error_records)


def ended_days_ago(import_id, days) -> None:
    # No service moves time; the retention rule only reads ``end``.
    ImportRecord.objects.filter(pk=import_id).update(
        end=timezone.now() - timedelta(days=days)
    )


def test_no_options_purges_temp_records_and_keeps_error_records(api, run_imports):
    # given
    done = finished(api, run_imports, "done.csv")
    stopped = cancelled(api, "stopped.csv")
    busy = running(api, "busy.csv")
    clean = one_id(run_imports(lambda: upload(api, f"{HEADER}\n{user_row(2)}\n")))
    clean_rev = ImportRecord.objects.get(pk=clean).rev
    # when
    lines = cleanup()
    # then
    assert lines == [
        f"{done} done.csv: temp records purged, error records kept",
        f"{stopped} stopped.csv: temp records purged, error records kept",
        "2 import(s) cleaned up",
    ]
    assert held(done) == (0, 1)
    assert held(stopped) == (0, 1)
    assert flags(done) == flags(stopped) == (True, False)
    assert ImportRecord.objects.get(pk=stopped).temp_records == 0
    # the running import and the one holding nothing are left alone
    assert held(busy) == (3, 1)
    assert flags(busy) == (False, False)
    assert ImportRecord.objects.get(pk=busy).status == ImportStatus.IMPORTING
    assert ImportRecord.objects.get(pk=busy).temp_records == 3
    assert flags(clean) == (True, False)
    assert ImportRecord.objects.get(pk=clean).rev == clean_rev


def test_delete_error_records_purges_both(api, run_imports):
    # given
    done = finished(api, run_imports, "done.csv")
    stopped = cancelled(api, "stopped.csv")
    busy = running(api, "busy.csv")
    # when
    lines = cleanup("--delete-error-records")
    # then
    assert lines == [
        f"{done} done.csv: temp records purged, error records purged",
        f"{stopped} stopped.csv: temp records purged, error records purged",
        "2 import(s) cleaned up",
    ]
    assert held(done) == held(stopped) == (0, 0)
    assert flags(done) == flags(stopped) == (True, True)
    assert held(busy) == (3, 1)
    assert flags(busy) == (False, False)
    assert services.import_cleanup_list() == [busy]


def test_a_second_run_finds_only_what_is_left(api, run_imports):
    # given
    done = finished(api, run_imports, "done.csv")
    cleanup("--delete-error-records")
    # when
    lines = cleanup()
    # then
    assert lines == ["0 import(s) cleaned up"]
    assert held(done) == (0, 0)


def test_uuid_option_touches_only_those_imports(api, run_imports):
    # given
    first = finished(api, run_imports, "first.csv")
    second = finished(api, run_imports, "second.csv")
    third = cancelled(api, "third.csv")
    second_before = ImportRecord.objects.get(pk=second)
    # when
    lines = cleanup("--uuid", first, "--uuid", third, "--delete-error-records")
    # then
    assert lines == [
        f"{first} first.csv: temp records purged, error records purged",
        f"{third} third.csv: temp records purged, error records purged",
        "2 import(s) cleaned up",
    ]
    assert held(first) == held(third) == (0, 0)
    assert held(second) == (0, 1)
    second_after = ImportRecord.objects.get(pk=second)
    assert (second_after.rev, second_after.purged_error_records) == (
        second_before.rev,
        False,
    )


def test_uuid_option_cleans_an_import_holding_nothing(api, run_imports):
    # given: not in cleanupList, but named explicitly
    clean = one_id(run_imports(lambda: upload(api, f"{HEADER}\n{user_row(2)}\n")))
    # when
    lines = cleanup("--uuid", clean)
    # then
    assert lines == [
        f"{clean} users.csv: temp records purged, error records kept",
        "1 import(s) cleaned up",
    ]


@pytest.mark.parametrize(
    ("args", "setting", "old_purged"),
    [
        (["--error-retention-days", "7"], 0, True),
        (["--error-retention-days", "30"], 0, False),
        (["--error-retention-days", "0"], 7, False),
        ([], 7, True),
        ([], 30, False),
        ([], 0, False),
    ],
    ids=[
        "7-days",
        "30-days",
        "0-keeps-despite-setting",
        "setting-7",
        "setting-30",
        "default",
    ],
)
def test_error_retention_expires_only_old_error_records(
    api, run_imports, settings, args, setting, old_purged
):
    # given
    settings.IMPORTS_ERROR_RETENTION_DAYS = setting
    old = finished(api, run_imports, "old.csv")
    ended_days_ago(old, 10)
    recent = finished(api, run_imports, "recent.csv")
    ended_days_ago(recent, 6)
    # when
    lines = cleanup(*args)
    # then
    old_errors = "error records purged" if old_purged else "error records kept"
    assert lines == [
        f"{old} old.csv: temp records purged, {old_errors}",
        f"{recent} recent.csv: temp records purged, error records kept",
        "2 import(s) cleaned up",
    ]
    assert held(old) == (0, 0 if old_purged else 1)
    assert flags(old) == (True, old_purged)
    assert held(recent) == (0, 1)
    assert flags(recent) == (True, False)


def test_error_retention_never_touches_a_running_import(api, settings):
    # given
    busy = running(api, "busy.csv")
    queued = one_id(upload(api, STAGED, name="queued.csv"))
    # when
    lines = cleanup("--error-retention-days", "1", "--uuid", busy, "--uuid", queued)
    # then
    assert lines == ["0 import(s) cleaned up"]
    assert held(busy) == (3, 1)
    assert flags(busy) == flags(queued) == (False, False)
    assert ImportRecord.objects.get(pk=busy).status == ImportStatus.IMPORTING
    assert ImportRecord.objects.get(pk=queued).status == ImportStatus.QUEUED


@pytest.mark.parametrize("unknown", [UNKNOWN_ID, "not-a-uuid"])
def test_unknown_uuid_is_a_command_error_and_changes_nothing(api, run_imports, unknown):
    # given
    known = finished(api, run_imports, "known.csv")
    before = ImportRecord.objects.get(pk=known)
    # when
    with pytest.raises(CommandError) as error:
        cleanup("--uuid", known, "--uuid", unknown, "--delete-error-records")
    # then
    assert str(error.value) == f"Resource 'csv/metadata/{unknown}' not found"
    assert held(known) == (0, 1)
    after = ImportRecord.objects.get(pk=known)
    assert (after.rev, after.purged_error_records) == (before.rev, False)


@pytest.mark.parametrize(
    ("args", "setting", "message"),
    [
        (
            ["--error-retention-days", "-1"],
            0,
            "--error-retention-days must be 0 (keep error records) or more, got -1",
        ),
        (
            [],
            -7,
            "IMPORTS_ERROR_RETENTION_DAYS must be 0 (keep error records) or more, "
            "got -7",
        ),
    ],
    ids=["option", "setting"],
)
def test_negative_retention_is_a_command_error_and_changes_nothing(
    api, run_imports, settings, args, setting, message
):
    # given
    settings.IMPORTS_ERROR_RETENTION_DAYS = setting
    done = finished(api, run_imports, "done.csv")
    stopped = cancelled(api, "stopped.csv")
    # when
    with pytest.raises(CommandError) as error:
        cleanup(*args)
    # then
    assert str(error.value) == message
    assert held(done) == (0, 1)
    assert held(stopped) == (3, 1)
    assert flags(done) == (True, False)
    assert flags(stopped) == (False, False)
