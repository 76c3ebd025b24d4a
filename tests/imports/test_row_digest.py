"""A re-import knows the rows that wrote their objects by digest (PostgreSQL).

The digest covers the type's schema, the file's header and the row's cells;
any write other than an imported row clears it. SQLite keeps no digests and
decides every matched row in Python.
"""

import re

from django.db import connection, transaction

from imports.models import ImportRecord
from imports.pipeline.reconcile import next_chunk
from imports.pipeline.runner import import_run
from managed.models import ManagedObject
from tests.imports.helpers import HEADER, import_context, stage, upload, user_row

# "TRUE" is a boolean to the coercion, but not a spelling the column-by-column
# check in SQL recognises: only the digest can find these rows unchanged.
ODD_ROWS = [f"u{n},Given{n},Sn{n},u{n}@example.com,active,TRUE" for n in (1, 2, 3)]


def _csv(header: str, rows: list[str]) -> str:
    return header + "\n" + "\n".join(rows) + "\n"


def _import(api, text: str) -> ImportRecord:
    (import_id,) = upload(api, text).json()["importUUIDs"]
    import_run(import_id)
    return ImportRecord.objects.get(pk=import_id)


def _first_chunk(api, text: str):
    """Stage an upload and read its first chunk as a worker would."""
    (import_id,) = upload(api, text).json()["importUUIDs"]
    record = stage(import_id)
    context = import_context(record)
    with transaction.atomic():
        chunk = next_chunk(context, 100)
        transaction.set_rollback(True)  # leave the rows staged
    return import_id, chunk


def _digests() -> list:
    return list(
        ManagedObject.objects.order_by("object_id").values_list("row_digest", flat=True)
    )


def test_rows_that_wrote_their_objects_are_found_unchanged_by_digest(api):
    # given: objects written by rows with an odd boolean spelling
    text = _csv(HEADER, ODD_ROWS)
    assert _import(api, text).created == 3
    digests = _digests()
    # when: the same file comes again
    import_id, chunk = _first_chunk(api, text)
    import_run(import_id)
    # then: PostgreSQL skips all three in SQL; SQLite decides them in Python;
    # either way nothing is written
    record = ImportRecord.objects.get(pk=import_id)
    if connection.vendor == "postgresql":
        assert all(re.fullmatch(r"[0-9a-f]{32}", d) for d in digests)
        assert len(set(digests)) == 3
        assert (chunk.unchanged, len(chunk.rows)) == (3, 0)
    else:
        assert digests == [None, None, None]
        assert (chunk.unchanged, len(chunk.rows)) == (0, 3)
    assert (record.unchanged, record.updated, record.created) == (3, 0, 0)
    assert _digests() == digests


def test_python_and_sql_digest_cells_that_need_escaping_alike(api):
    # given: an object written by a row whose cells JSON and COPY escape,
    # with non-ASCII text; Python digests the rows it writes
    text = _csv(HEADER, ['u1,"Zoë ""Z"" \\ Ångström\tx",Sn1,u1@example.com,,TRUE'])
    assert _import(api, text).created == 1
    # when: the same file comes again; SQL digests the rows it compares
    import_id, chunk = _first_chunk(api, text)
    import_run(import_id)
    # then: PostgreSQL finds the row unchanged by its digest alone
    record = ImportRecord.objects.get(pk=import_id)
    assert (record.unchanged, record.updated) == (1, 0)
    if connection.vendor == "postgresql":
        assert (chunk.unchanged, len(chunk.rows)) == (1, 0)


def test_the_same_cells_under_another_header_are_checked_again(api):
    # given: objects written by the odd rows
    _import(api, _csv(HEADER, ODD_ROWS))
    # when: the same values come with the columns in another order
    swapped = HEADER.split(",")
    swapped[1], swapped[2] = swapped[2], swapped[1]
    rows = [f"u{n},Sn{n},Given{n},u{n}@example.com,active,TRUE" for n in (1, 2, 3)]
    import_id, chunk = _first_chunk(api, _csv(",".join(swapped), rows))
    import_run(import_id)
    # then: no digest matches, so every row is decided again (and changes nothing)
    assert (chunk.unchanged, len(chunk.rows)) == (0, 3)
    record = ImportRecord.objects.get(pk=import_id)
    assert (record.unchanged, record.updated) == (3, 0)


def test_a_write_through_the_api_makes_the_row_count_again(api):
    # given: two imported users, one of them then changed through the API
    text = _csv(HEADER, [user_row(1), user_row(2)])
    _import(api, text)
    before = dict(ManagedObject.objects.values_list("object_id", "row_digest"))
    changed = ManagedObject.objects.get(properties__userName="u1")
    response = api.patch(
        f"/openidm/managed/user/{changed.object_id}",
        [{"operation": "replace", "field": "/givenName", "value": "Changed"}],
        format="json",
    )
    assert response.status_code == 200
    changed.refresh_from_db()
    assert changed.row_digest is None
    # when: the file comes again
    record = _import(api, text)
    # then: the changed user is put back, the other one is unchanged
    assert (record.updated, record.unchanged) == (1, 1)
    changed.refresh_from_db()
    assert changed.properties["givenName"] == "Given1"
    assert dict(ManagedObject.objects.values_list("object_id", "row_digest")) == before
