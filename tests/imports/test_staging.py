"""Staging writes every cell and key exactly, and flags repeated keys."""

import json

import pytest
from django.db import connection
from django.test import override_settings

from imports.models import ImportRecord, ImportStatus, TempRecord
from imports.pipeline import staging
from imports.pipeline.errors import ImportStoppedError
from imports.pipeline.runner import import_run
from managed.models import ManagedObject
from tests.imports.helpers import HEADER, stage, upload, user_row

# Cells that COPY's text format and JSON both escape: backslashes, tabs,
# line breaks, quotes, a lone CR, a backslash before "N", non-ASCII text.
AWKWARD = [
    "back\\slash",
    "tab\there",
    "two\nlines",
    'say "hi"',
    "cr\ronly",
    "\\N",
    "Zoë 東京 \u00a0nbsp",
]


def _quoted(cell: str) -> str:
    return '"' + cell.replace('"', '""') + '"'


def awkward_csv() -> str:
    rows = [
        f"{_quoted(name)},{_quoted(name)},Sn,x{number}@example.com,active,true"
        for number, name in enumerate(AWKWARD)
    ]
    return HEADER + "\n" + "\n".join(rows) + "\n"


def test_staging_keeps_awkward_cells_and_keys_exactly(api):
    # given: an upload whose key cells need escaping on their way to the database
    response = upload(api, awkward_csv())
    (import_id,) = response.json()["importUUIDs"]
    # when: it is staged
    record = stage(import_id)
    # then: every row is staged with its cells and key as the file has them
    staged = [
        (number, json.loads(cells), key, first_row)
        for number, cells, key, first_row in TempRecord.objects.filter(
            import_record_id=import_id
        )
        .order_by("row_number")
        .values_list("row_number", "cells", "key", "first_row")
    ]
    assert record.status == ImportStatus.IMPORTING
    assert record.temp_records == len(AWKWARD)
    assert staged == [
        (
            number + 2,
            [name, name, "Sn", f"x{number}@example.com", "active", "true"],
            name,
            None,
        )
        for number, name in enumerate(AWKWARD)
    ]


def test_awkward_cells_reach_the_objects_unchanged(api):
    # given: the awkward upload
    (import_id,) = upload(api, awkward_csv()).json()["importUUIDs"]
    # when: it runs to the end
    import_run(import_id)
    # then: each object holds exactly the text of its cells
    record = ImportRecord.objects.get(pk=import_id)
    assert (record.created, record.failure) == (len(AWKWARD), 0)
    names = sorted(
        ManagedObject.objects.values_list("properties__givenName", flat=True)
    )
    assert names == sorted(AWKWARD)


def test_repeated_keys_point_at_the_row_that_used_them_first(api):
    # given: keys a, b, a, blank, a, blank, b (rows 2..8)
    keys = ["a", "b", "a", "", "a", "", "b"]
    rows = [f"{key},G,S,{n}@example.com,active,true" for n, key in enumerate(keys)]
    (import_id,) = upload(api, HEADER + "\n" + "\n".join(rows) + "\n").json()[
        "importUUIDs"
    ]
    # when: it is staged
    stage(import_id)
    # then: later uses of a key name the first row; blank keys are never duplicates
    flagged = dict(
        TempRecord.objects.filter(import_record_id=import_id).values_list(
            "row_number", "first_row"
        )
    )
    assert flagged == {2: None, 3: None, 4: 2, 5: None, 6: 2, 7: None, 8: 3}


@override_settings(IMPORTS_CHUNK_SIZE=2, IMPORTS_SQLITE_ROWS_PER_COMMIT=6)
def test_sqlite_stages_several_batches_in_one_transaction(api, monkeypatch):
    # given: 10 rows in batches of 2, and a stop before the fifth batch
    rows = "\n".join(user_row(n) for n in range(10))
    (import_id,) = upload(api, f"{HEADER}\n{rows}\n").json()["importUUIDs"]
    checks = iter([False] * 4 + [True])
    monkeypatch.setattr(staging, "cancel_requested", lambda _: next(checks))
    # when
    with pytest.raises(ImportStoppedError):
        staging.stage_rows(ImportRecord.objects.get(pk=import_id))
    # then: SQLite kept batches 1-3, committed together, and rolled back the
    # fourth with the stop; PostgreSQL commits each batch
    record = ImportRecord.objects.get(pk=import_id)
    staged = TempRecord.objects.filter(import_record_id=import_id).count()
    expected = 6 if connection.vendor == "sqlite" else 8
    assert (staged, record.total, record.temp_records) == (expected,) * 3
    assert record.status == ImportStatus.STAGING
