"""The chunk statement finds each staged row's object through the key's index."""

from django.db import connection, transaction

from imports.pipeline.reconcile import ImportContext
from imports.pipeline.runner import import_run
from managed.indexes import index_name
from tests.imports.helpers import HEADER, import_context, stage, upload, user_row


def _plan(context: ImportContext) -> str:
    params = [context.import_id_param, 0, 100]
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL enable_seqscan = off")
            cursor.execute("EXPLAIN " + context.chunk_sql, params)
        else:
            cursor.execute("EXPLAIN QUERY PLAN " + context.chunk_sql, params)
        return "\n".join(str(row) for row in cursor.fetchall())


def test_the_chunk_statement_probes_the_key_index(api):
    # given: stored users, and the same rows staged again
    text = HEADER + "\n" + "\n".join(user_row(n) for n in range(1, 6)) + "\n"
    (first,) = upload(api, text).json()["importUUIDs"]
    import_run(first)
    (second,) = upload(api, text).json()["importUUIDs"]
    record = stage(second)
    context = import_context(record)
    # when
    plan = _plan(context)
    # then: the userName index serves the match, on both databases (a full
    # scan of the objects per staged row would make imports quadratic)
    user_type_id = record.object_type_id
    assert index_name(user_type_id, ("userName",), unique=True) in plan
