"""The runner's shared reconcile: helper parts, and who completes an import."""

import pytest
from django.db import connection, reset_queries
from django.test import override_settings

from imports.conf import cancel_request_path
from imports.models import ImportRecord, ImportStatus, TempRecord
from imports.pipeline import reconcile
from imports.pipeline.errors import ImportStoppedError
from imports.pipeline.reconcile import reconcile_rows
from imports.pipeline.runner import finalize, import_reconcile, import_run
from imports.services import import_cancel
from managed.indexes import existing_indexes, wanted_indexes
from managed.models import ManagedObject, ManagedObjectType
from managed.services import managed_type_compile
from tests.imports.helpers import HEADER, import_context, stage, upload, user_row

ROWS = 12  # rows 2..13 of the file; chunks of 5 rows


def queued_import(api) -> str:
    text = HEADER + "\n" + "\n".join(user_row(n) for n in range(ROWS)) + "\n"
    response = upload(api, text)  # no on_commit here: it stays queued
    assert response.status_code == 200
    (import_id,) = response.json()["importUUIDs"]
    return import_id


@override_settings(IMPORTS_CHUNK_SIZE=5)
def test_a_helper_part_alone_reconciles_every_row(api):
    # given: a staged import whose first worker never reconciles anything
    import_id = queued_import(api)
    stage(import_id)
    # when: only the helper of part 2 of 2 runs; it starts at row 5
    status = import_reconcile(import_id, 1, 2)
    # then: it wraps to the top, so every row is imported exactly once
    record = ImportRecord.objects.get(pk=import_id)
    assert status == ImportStatus.COMPLETED
    assert (record.total, record.success, record.created, record.failure) == (
        ROWS,
        ROWS,
        ROWS,
        0,
    )
    assert ManagedObject.objects.count() == ROWS
    assert not TempRecord.objects.filter(import_record_id=import_id).exists()


def test_finalize_leaves_an_import_with_staged_rows_running(api):
    # given: staged rows that no worker has reconciled yet
    import_id = queued_import(api)
    record = stage(import_id)
    # when: a worker that found nothing more to claim finalizes
    finalize(record)
    # then: the rows' holder completes the import later, not this worker
    record.refresh_from_db()
    assert record.status == ImportStatus.IMPORTING
    assert record.end is None
    assert TempRecord.objects.filter(import_record_id=import_id).count() == ROWS


@override_settings(IMPORTS_CHUNK_SIZE=5)
def test_a_helper_arriving_after_the_end_changes_nothing(api):
    # given: an import the first worker ran to its end
    import_id = queued_import(api)
    assert import_run(import_id) == ImportStatus.COMPLETED
    before = ImportRecord.objects.get(pk=import_id)
    # when: its helper task is delivered afterwards
    status = import_reconcile(import_id, 1, 2)
    # then
    after = ImportRecord.objects.get(pk=import_id)
    assert status == ImportStatus.COMPLETED
    assert (after.rev, after.created, after.end) == (
        before.rev,
        before.created,
        before.end,
    )
    assert ManagedObject.objects.count() == ROWS


@override_settings(IMPORTS_CHUNK_SIZE=2, DEBUG=True)
def test_debug_statement_log_does_not_grow_with_the_file(api):
    # given: an import of 12 rows in chunks of 2, with DEBUG's statement log on
    import_id = queued_import(api)
    reset_queries()
    # when: it runs to the end (6 staging batches, 6 chunks)
    import_run(import_id)
    # then: only the statements after the last chunk are still logged, so the
    # log (and the worker's memory) does not grow with the number of chunks
    record = ImportRecord.objects.get(pk=import_id)
    assert (record.status, record.created) == (ImportStatus.COMPLETED, ROWS)
    logged = [q["sql"] for q in connection.queries]
    # (a second worker's part runs in this process in tests: two last chunks;
    # without the reset, 110 statements and 8 chunk statements stay logged)
    assert sum("row_number <=" in sql for sql in logged) <= 2  # chunk statements
    assert len(logged) < 40


def test_a_cancel_request_stops_the_sqlite_worker_before_its_next_chunk(api):
    # given: a staged import, and a cancel waiting for SQLite's write lock
    rows = "\n".join(user_row(n) for n in range(1, 4))
    (import_id,) = upload(api, f"{HEADER}\n{rows}\n").json()["importUUIDs"]
    record = stage(import_id)
    request = cancel_request_path(import_id)
    request.parent.mkdir(parents=True, exist_ok=True)
    request.touch()
    context = import_context(record)
    # when: the worker looks for its next chunk
    try:
        if connection.vendor == "sqlite":
            with pytest.raises(ImportStoppedError):
                reconcile_rows(context, 100)
        else:  # PostgreSQL's row locks let a cancel in between chunks
            reconcile_rows(context, 100)
    finally:
        request.unlink()
    # then: on SQLite it took no chunk and left the lock to the cancel
    written = ManagedObject.objects.count()
    staged = TempRecord.objects.filter(import_record_id=import_id).count()
    assert (written, staged) == ((0, 3) if connection.vendor == "sqlite" else (3, 0))


@override_settings(IMPORTS_SQLITE_ROWS_PER_COMMIT=6)
def test_sqlite_commits_several_chunks_together(api, monkeypatch):
    # given: 10 staged rows, chunks of 2 rows, and a stop before the fifth chunk
    rows = "\n".join(user_row(n) for n in range(10))
    (import_id,) = upload(api, f"{HEADER}\n{rows}\n").json()["importUUIDs"]
    record = stage(import_id)
    checks = iter([False] * 4 + [True])
    monkeypatch.setattr(reconcile, "cancel_requested", lambda _: next(checks))
    # when: the worker reconciles and is stopped
    with pytest.raises(ImportStoppedError):
        reconcile_rows(import_context(record), 2)
    # then: SQLite committed chunks 1-3 as one transaction and rolled back
    # chunk 4 with the one the stop came in; PostgreSQL commits each chunk.
    # (Windows of 2 row numbers: the header is row 1, so chunk 1 holds one row.)
    written = ManagedObject.objects.count()
    staged = TempRecord.objects.filter(import_record_id=import_id).count()
    success = ImportRecord.objects.get(pk=import_id).success
    expected = 1 + 2 + 2 if connection.vendor == "sqlite" else 1 + 2 + 2 + 2
    assert (written, staged, success) == (expected, 10 - expected, expected)


def user_indexes() -> tuple[set[str], set[str]]:
    """The user type's (unique, every) index names, as its schema wants them."""
    user_type = ManagedObjectType.objects.get(name="user")
    schema = managed_type_compile(user_type).schema
    return (
        set(wanted_indexes(user_type, schema, unique_only=True)),
        set(wanted_indexes(user_type, schema)),
    )


def indexes_while_applying(monkeypatch) -> list[set[str]]:
    """Record the user type's indexes as each chunk is applied."""
    seen = []
    apply_chunk = reconcile.apply_chunk

    def spy(context, plan):
        seen.append(existing_indexes(context.managed_type.model.pk))
        apply_chunk(context, plan)

    monkeypatch.setattr(reconcile, "apply_chunk", spy)
    return seen


@override_settings(IMPORTS_CHUNK_SIZE=5)
@pytest.mark.parametrize("dry_run", [False, True])
def test_a_first_import_builds_its_types_searchable_indexes_at_its_end(
    api, monkeypatch, dry_run
):
    # given: the user type as loaded, holding nothing, with its unique index
    unique, every = user_indexes()
    assert len(unique) == 1
    assert len(every) == 7
    assert existing_indexes(ManagedObjectType.objects.get(name="user").pk) == unique
    text = HEADER + "\n" + "\n".join(user_row(n) for n in range(ROWS)) + "\n"
    response = upload(api, text, extra="&dryRun=true" if dry_run else "")
    (import_id,) = response.json()["importUUIDs"]
    seen = indexes_while_applying(monkeypatch)
    # when
    assert import_run(import_id) == ImportStatus.COMPLETED
    # then: every chunk went in under the unique index alone; the searchable
    # ones were built before the import ended; a dry run, which writes no
    # object, left the type as it was
    user_type = ManagedObjectType.objects.get(name="user")
    assert seen == [unique] * 3
    assert user_type.indexed is not dry_run
    assert existing_indexes(user_type.pk) == (unique if dry_run else every)
    assert ManagedObject.objects.count() == (0 if dry_run else ROWS)


@override_settings(IMPORTS_CHUNK_SIZE=5)
def test_a_later_import_writes_under_every_index(api, monkeypatch):
    # given: a type already in use
    _, every = user_indexes()
    text = HEADER + "\n" + "\n".join(user_row(n) for n in range(ROWS)) + "\n"
    response = upload(api, text)
    (first,) = response.json()["importUUIDs"]
    assert import_run(first) == ImportStatus.COMPLETED
    text = HEADER + "\n" + "\n".join(user_row(n) for n in range(ROWS, 2 * ROWS))
    (second,) = upload(api, text + "\n").json()["importUUIDs"]
    seen = indexes_while_applying(monkeypatch)
    # when
    assert import_run(second) == ImportStatus.COMPLETED
    # then
    assert seen == [every] * 3
    assert ManagedObject.objects.count() == 2 * ROWS


@override_settings(
    IMPORTS_CHUNK_SIZE=5, IMPORTS_SQLITE_ROWS_PER_COMMIT=5, IMPORTS_RECONCILE_WORKERS=1
)
@pytest.mark.parametrize("ending", ["stopped", "failed"])
def test_a_first_import_that_ends_early_still_indexes_its_type(
    api, monkeypatch, ending
):
    # given: a first import whose second chunk never applies
    _, every = user_indexes()
    import_id = queued_import(api)
    chunks = iter([False, True])
    if ending == "stopped":

        def cancelled(_):
            if next(chunks):
                import_cancel(import_id)
                return True  # as a cancel request is seen on SQLite
            return False

        monkeypatch.setattr(reconcile, "cancel_requested", cancelled)
    else:
        plan_chunk = reconcile.plan_chunk

        def failing(context, chunk):
            if next(chunks):
                raise RuntimeError("disk full")
            return plan_chunk(context, chunk)

        monkeypatch.setattr(reconcile, "plan_chunk", failing)
    # when
    if ending == "stopped":
        status = import_run(import_id)
    else:
        with pytest.raises(RuntimeError):
            import_run(import_id)
        status = ImportRecord.objects.get(pk=import_id).status
    # then: the first chunk's objects are there, and so is every index
    user_type = ManagedObjectType.objects.get(name="user")
    assert status == {"stopped": "cancelled", "failed": "failed"}[ending]
    assert ManagedObject.objects.count() == 4  # rows 2-5: the header is row 1
    assert (user_type.indexed, existing_indexes(user_type.pk)) == (True, every)
