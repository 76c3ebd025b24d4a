"""The move to the staged-row table keeps every row still waiting."""

import json

import pytest
from django.db import connection

from imports.models import TempRecord
from tests.imports.helpers import HEADER, stage, upload, user_row
from tests.migrations import migrate_to, migrate_to_latest


def _staged(import_id: str) -> list[tuple]:
    """Rows with their cells decoded (a jsonb round trip may respace the text)."""
    rows = (
        TempRecord.objects.filter(import_record_id=import_id)
        .order_by("row_number")
        .values_list("row_number", "cells", "key", "first_row")
    )
    return [
        (number, json.loads(cells), key, first) for number, cells, key, first in rows
    ]


@pytest.mark.django_db(transaction=True)
def test_rows_staged_before_the_upgrade_survive_it_both_ways(api, monkeypatch):
    # given: an import staged and not yet reconciled, with a repeated key (the
    # upload commits here, so its queued run is held back)
    monkeypatch.setattr("imports.services.enqueue_import", lambda import_id: None)
    rows = [user_row(1), user_row(2), user_row(1)]
    (import_id,) = upload(api, HEADER + "\n" + "\n".join(rows) + "\n").json()[
        "importUUIDs"
    ]
    stage(import_id)
    before = _staged(import_id)
    assert [(number, first_row) for number, _, _, first_row in before] == [
        (2, None),
        (3, None),
        (4, 2),
    ]
    # when: back to the old table and forward again
    migrate_to("imports", "0003_drop_temp_key_index")
    with connection.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM imports_temprecord")
        (old_count,) = cursor.fetchone()
    migrate_to_latest()
    # then: every row, cell, key and duplicate mark is where it was
    assert old_count == 3
    assert _staged(import_id) == before
